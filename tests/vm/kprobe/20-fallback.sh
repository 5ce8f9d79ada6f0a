# A probe that registers but never fires must be caught by the self-test and
# replaced: on Debian's 6.1, ksys_msgget is inlined into __x64_sys_msgget.
# timeout: 300
. /scenarios/lib.sh
set -u
if grep -qw ksys_msgget /proc/kallsyms; then echo "ksys_msgget is in kallsyms"; fi
/bin/mqtrace --backend kprobe -e msgget,mq_open -f json -o /tmp/fb.json 2>/tmp/fb.err &
pid=$!
i=0; while ! grep -q Tracing /tmp/fb.err && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
cat /tmp/fb.err
grep -q Tracing /tmp/fb.err || { echo "mqtrace never became ready"; exit 1; }
/bin/mqworkload all fallback >/dev/null
sleep 1
kill -INT $pid; wait $pid; rc=$?
cat /tmp/fb.err
[ $rc -eq 0 ] || { echo "mqtrace exited $rc"; exit 1; }
n=$(grep -c '"event":"msgget"' /tmp/fb.json)
echo "msgget calls seen: $n"
[ "$n" -eq 2 ] || exit 1
[ -z "$(leftovers)" ] || { echo "state left behind"; exit 1; }
echo "fallback ok"
