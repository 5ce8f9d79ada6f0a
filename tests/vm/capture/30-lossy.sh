# Record a run whose ring buffer overflows (8 KiB per CPU): pages with missed events.
# timeout: 300
set -eu
mkdir -p /tmp/rec-lossy
/bin/mqtrace --backend kprobe -e mq_open -f json --buffer-size 8 -w /tmp/rec-lossy/recording.mqt --print -o /tmp/rec-lossy/expected.json 2>/tmp/err &
pid=$!
i=0; while ! grep -q Tracing /tmp/err && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
/bin/mqworkload race lossy 3000
sleep 1
kill -INT $pid; wait $pid
cat /tmp/err
grep -c '"event":"lost"' /tmp/rec-lossy/expected.json || true
tar cf /tmp/rec-lossy.tar -C /tmp rec-lossy
mqt_export /tmp/rec-lossy.tar rec-lossy.tar
