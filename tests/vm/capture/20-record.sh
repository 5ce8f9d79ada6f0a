# Record a kprobe run of every event (raw pages, formats, probe table) and the JSON it printed.
# timeout: 300
set -eu
mkdir -p /tmp/rec-all
/bin/mqtrace --backend kprobe -f json -w /tmp/rec-all/recording.mqt --print -o /tmp/rec-all/expected.json 2>/tmp/err &
pid=$!
i=0; while ! grep -q Tracing /tmp/err && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
/bin/mqworkload all fixture
/bin/mqworkload --raw all fixture-raw
sleep 1
kill -INT $pid; wait $pid
cat /tmp/err
tar cf /tmp/rec-all.tar -C /tmp rec-all
mqt_export /tmp/rec-all.tar rec-all.tar
