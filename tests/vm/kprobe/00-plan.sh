# What mqtrace plans and installs on this kernel (read by scripts/vm/matrix): the tracefs writes
# of --dry-run (plan.txt), the kernel's profile (profile.tar, as tests/profiles holds it), and a
# real start with the default options: the time from exec to "Tracing", the self-test's
# rejections, the probes left in dynamic_events once it traces (ready.txt), then every event seen.
# timeout: 300
. /scenarios/lib.sh
set -u
echo "kernel $(uname -r)"
/bin/mqtrace --dry-run --backend kprobe > /tmp/plan.txt 2>&1 || { cat /tmp/plan.txt; exit 1; }
mqt_export /tmp/plan.txt plan.txt
/bin/mqtrace --record-profile /tmp/profile || exit 1
tar cf /tmp/profile.tar -C /tmp profile && mqt_export /tmp/profile.tar profile.tar || exit 1

t0=$(cut -d' ' -f1 /proc/uptime)
/bin/mqtrace -f json -o /tmp/ready.json 2>/tmp/ready.err &
pid=$!
while ! grep -q '^Tracing' /tmp/ready.err && kill -0 $pid 2>/dev/null; do sleep 0.05; done
t1=$(cut -d' ' -f1 /proc/uptime)
{ echo "ready_s $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
  sed 's/^/stderr /' /tmp/ready.err
  grep "mqtrace_$pid/" /sys/kernel/tracing/dynamic_events | sed 's/^/probe /'
} > /tmp/ready.txt
/bin/mqworkload all matrix >/dev/null
sleep 1
kill -INT $pid; wait $pid; rc=$?
echo "exit $rc" >> /tmp/ready.txt
mqt_export /tmp/ready.txt ready.txt
cat /tmp/ready.txt
[ $rc -eq 0 ] || { echo "mqtrace exited $rc"; exit 1; }
grep -q '^Tracing 10 message-queue syscalls with the kprobe backend' /tmp/ready.err ||
  { echo "not the kprobe backend"; exit 1; }
for e in mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr msgget msgsnd msgrcv msgctl; do
  grep -q "\"event\":\"$e\".*\"comm\":\"mqworkload\"" /tmp/ready.json || { echo "no $e call seen"; exit 1; }
done
left=$(leftovers)
[ -z "$left" ] || { echo "tracefs still holds mqtrace state:"; echo "$left"; exit 1; }
echo "plan ok"
