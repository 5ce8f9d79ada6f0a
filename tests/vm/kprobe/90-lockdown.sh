# Kernel lockdown (confidentiality) refuses tracefs to root too: mqtrace must
# say so in one sentence and exit 4. Lockdown cannot be lifted once set, so
# this scenario runs last in the VM.
# timeout: 120
. /scenarios/lib.sh
set -u
mountpoint -q /sys/kernel/security 2>/dev/null || mount -t securityfs none /sys/kernel/security
echo "lockdown: $(cat /sys/kernel/security/lockdown)"
grep -q confidentiality /sys/kernel/security/lockdown || { echo "this kernel has no lockdown LSM"; exit 1; }
echo confidentiality > /sys/kernel/security/lockdown
grep -q '\[confidentiality\]' /sys/kernel/security/lockdown || { echo "lockdown not set"; exit 1; }
/bin/mqtrace --backend kprobe -d 1 >/tmp/ld.out 2>/tmp/ld.err
rc=$?
cat /tmp/ld.err
[ $rc -eq 4 ] || { echo "exit status $rc, not 4"; exit 1; }
grep -q '^mqtrace: the kernel is locked down (confidentiality): it refuses tracefs to every process, root included' /tmp/ld.err ||
  { echo "lockdown not named"; exit 1; }
[ "$(wc -l < /tmp/ld.err)" -eq 1 ] || { echo "more than one line"; exit 1; }
echo "lockdown ok"
