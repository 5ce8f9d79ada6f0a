# Harness self-test: the guest has tracefs with kprobe_events and a sane scenario environment.
# timeout: 30
set -eu
T=/sys/kernel/tracing
grep -q " $T tracefs " /proc/mounts
[ -f $T/kprobe_events ]
echo "kprobe_events present on $(uname -r)"
# the harness promises default SIGINT/SIGTERM for the scenario shell (SigIgn bits 2 and 15)
ign=$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/$$/status)
[ $(( 0x$ign & 0x4002 )) -eq 0 ] || { echo "SIGINT/SIGTERM ignored: SigIgn=$ign"; exit 1; }
# ...and mqt_sigdfl gives background jobs default SIGINT too (an `&` job ignores it otherwise)
if [ -x /bin/mqt_sigdfl ]; then
  mqt_sigdfl sleep 30 & pid=$!
  i=0; while [ "$(cat /proc/$pid/comm)" != sleep ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  kill -INT $pid; wait $pid || true
  ! kill -0 $pid 2>/dev/null || { echo "SIGINT did not stop a mqt_sigdfl job"; exit 1; }
  echo "mqt_sigdfl: background job stopped by SIGINT"
fi
case "$PWD" in /tmp/10-pass.*) echo "cwd ok" ;; *) echo "cwd $PWD"; exit 1 ;; esac
echo "selftest-pass-ok"
