// Which calls are shown (-p, -t, --comm, -u, -x). The kernel does all it can:
// the instance's set_event_pid for processes and threads, each probe's filter
// file for the command name and failed returns, so that other processes' calls
// never reach the ring buffer. What it cannot do is checked on each call
// before it is formatted (CallFilter). Pure but for the uid lookups.
#pragma once

#include "mqtrace/correlator.hpp"
#include "mqtrace/kernel.hpp"
#include "mqtrace/plan.hpp"

#include <string>
#include <vector>

namespace mqtrace {

struct Selection {
    std::vector<int> pids; // processes: their threads, and the threads and processes they create later
    std::vector<int> tids; // threads (and what they create later only if pids is given too)
    std::string comm;      // command name, at most 15 bytes as the kernel keeps it; "" any
    long uid = -1;         // real user id; -1 any
    bool failed = false;   // only calls that returned an error
    bool any() const { return !pids.empty() || !tids.empty() || !comm.empty() || uid >= 0 || failed; }
};

inline constexpr std::size_t kCommMax = 15; // TASK_COMM_LEN - 1

// Whether this kernel's event filters know the "comm" field (4.2+), and the
// name can be written in a filter (no '"').
bool comm_in_kernel(const Selection& s, const KernelFacts& k);

// The expression for probe p's filter file, or "" when it needs none. Calls
// of self_tid (the self-test's canaries) always pass.
std::string kernel_filter(const Selection& s, const Probe& p, const KernelFacts& k, int self_tid);

// The user-space share: what the kernel could not filter (and everything,
// for a recording read with -r, where in_kernel is false).
class CallFilter {
public:
    CallFilter(Selection s, bool comm_done, bool tasks_done);
    bool keep(const Call& c) const;
    bool active() const { return active_; }

private:
    Selection s_;
    bool comm_done_, tasks_done_, active_;
};

} // namespace mqtrace
