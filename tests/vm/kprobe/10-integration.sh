# The real-kernel integration tests, on Debian's kernel with kprobe events:
# all ten syscalls (libc, syscall(2), static), names, teardown on every exit path.
# timeout: 1500
. /scenarios/lib.sh
set -u
echo "kernel $(uname -r); kprobe_events: $(test -f /sys/kernel/tracing/kprobe_events && echo yes || echo no)"
/bin/mqtrace --dry-run --backend kprobe | grep -v '^echo .0' | head -40
# scripts/vm/matrix may run a subset on some kernels (MQT_GTEST_FILTER, set in lib.sh).
/bin/mqtrace-integration --gtest_color=no ${MQT_GTEST_FILTER:+--gtest_filter=$MQT_GTEST_FILTER}
rc=$?
left=$(leftovers)
[ -z "$left" ] || { echo "tracefs still holds mqtrace state:"; echo "$left"; exit 1; }
exit $rc
