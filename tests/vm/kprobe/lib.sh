# Shared by the kprobe-kernel scenarios: the binaries are in /bin (scripts/vm/run --bin).
export MQTRACE_BIN=/bin/mqtrace MQWORKLOAD=/bin/mqworkload MQWORKLOAD_STATIC=/bin/mqworkload-static
export MQTRACE_BACKEND=kprobe TRACE_CMD=/bin/trace-cmd HIDE_FTRACE=/bin/hide_ftrace.so COUNT_MALLOC=/bin/count_malloc.so
leftovers() {
  grep -h mqtrace_ /sys/kernel/tracing/dynamic_events /sys/kernel/tracing/kprobe_events \
    /sys/kernel/tracing/uprobe_events 2>/dev/null
  ls /sys/kernel/tracing/instances | grep mqtrace_
}
