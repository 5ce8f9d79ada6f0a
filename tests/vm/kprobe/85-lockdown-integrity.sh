# Kernel lockdown "integrity" (what Secure Boot machines run) still allows tracefs and kprobe
# events (only "confidentiality" refuses them): mqtrace must trace every call as before.
# Integrity cannot be lifted, and confidentiality (90-lockdown) can still be raised after it.
# timeout: 180
. /scenarios/lib.sh
set -u
mountpoint -q /sys/kernel/security 2>/dev/null || mount -t securityfs none /sys/kernel/security
grep -q integrity /sys/kernel/security/lockdown || { echo "this kernel has no lockdown LSM"; exit 1; }
echo integrity > /sys/kernel/security/lockdown
grep -q '\[integrity\]' /sys/kernel/security/lockdown || { echo "lockdown not set"; exit 1; }
echo "lockdown: $(cat /sys/kernel/security/lockdown)"
/bin/mqtrace --backend kprobe -f json -o /tmp/li.json 2>/tmp/li.err &
pid=$!
i=0; while ! grep -q '^Tracing' /tmp/li.err && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
cat /tmp/li.err
grep -q '^Tracing 10 message-queue syscalls with the kprobe backend' /tmp/li.err || { echo "not tracing with kprobes"; exit 1; }
/bin/mqworkload all locked >/dev/null
sleep 1
kill -INT $pid; wait $pid; rc=$?
[ $rc -eq 0 ] || { echo "mqtrace exited $rc"; exit 1; }
for e in mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr msgget msgsnd msgrcv msgctl; do
  grep -q "\"event\":\"$e\".*\"comm\":\"mqworkload\"" /tmp/li.json || { echo "no $e call seen"; exit 1; }
done
grep -q '"name":"mqt-locked' /tmp/li.json || { echo "queue name not decoded"; exit 1; }
[ -z "$(leftovers)" ] || { echo "state left behind"; exit 1; }
echo "lockdown integrity ok"
