# A probe that registers but never fires must be caught by the self-test and
# replaced: on Debian's 6.1, ksys_msgget is in kallsyms but inlined into
# __x64_sys_msgget. The test hook MQTRACE_TEST_FIRST makes mqtrace try it first.
# timeout: 300
. /scenarios/lib.sh
set -u
grep -qw ksys_msgget /proc/kallsyms && echo "ksys_msgget is in kallsyms"
MQTRACE_TEST_FIRST=msgget:ksys_msgget /bin/mqtrace --backend kprobe -e msgget,mq_open -f json -o /tmp/fb.json 2>/tmp/fb.err &
pid=$!
i=0; while ! grep -q Tracing /tmp/fb.err && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
cat /tmp/fb.err
grep -q Tracing /tmp/fb.err || { echo "mqtrace never became ready"; exit 1; }
grep -q 'self-test rejected msgget: kprobe ksys_msgget: .*no call seen (the probe never fired)' /tmp/fb.err ||
  { echo "the fallback was not reported"; exit 1; }
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
