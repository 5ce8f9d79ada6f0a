// Call selection. See include/mqtrace/filter.hpp.
#include "mqtrace/filter.hpp"

#include <algorithm>

namespace mqtrace {

bool comm_in_kernel(const Selection& s, const KernelFacts& k) {
    const bool has_comm_field = k.major > 4 || (k.major == 4 && k.minor >= 2);
    return !s.comm.empty() && has_comm_field && s.comm.find('"') == std::string::npos;
}

std::string kernel_filter(const Selection& s, const Probe& p, const KernelFacts& k, int self_tid) {
    if (p.ev < 0) return {}; // task events feed pid/comm attribution: never filtered
    std::string e;
    if (comm_in_kernel(s, k)) e = "comm == \"" + s.comm + "\"";
    if (s.failed && p.role == Role::Return) {
        const auto ret =
            std::find_if(p.fields.begin(), p.fields.end(), [](const Field& f) { return f.key == "$ret"; });
        if (ret != p.fields.end() && !ret->name.empty())
            e = e.empty() ? ret->name + " < 0" : "(" + e + ") && " + ret->name + " < 0";
    }
    if (e.empty()) return {};
    return "(" + e + ") || common_pid == " + std::to_string(self_tid);
}

CallFilter::CallFilter(Selection s, bool comm_done, bool tasks_done)
    : s_(std::move(s)), comm_done_(comm_done), tasks_done_(tasks_done) {
    active_ = (!tasks_done_ && (!s_.pids.empty() || !s_.tids.empty())) || (!comm_done_ && !s_.comm.empty()) ||
              s_.uid >= 0 || s_.failed;
}

bool CallFilter::keep(const Call& c) const {
    if (!active_) return true;
    if (!tasks_done_ && (!s_.pids.empty() || !s_.tids.empty())) {
        const bool by_pid = std::find(s_.pids.begin(), s_.pids.end(), c.pid) != s_.pids.end();
        const bool by_tid = std::find(s_.tids.begin(), s_.tids.end(), c.tid) != s_.tids.end();
        if (!by_pid && !by_tid) return false;
    }
    if (!comm_done_ && !s_.comm.empty() && c.comm != s_.comm) return false;
    if (s_.failed) {
        // Only calls that returned an error: a call whose return was not seen
        // (filtered in the kernel because it succeeded, or still running) is not one.
        const bool returned = c.end == CallEnd::Returned || c.end == CallEnd::EntryNotSeen;
        if (!returned || c.ret >= 0) return false;
    }
    if (s_.uid >= 0 && c.uid != s_.uid) return false; // taken when the call was correlated
    return true;
}

} // namespace mqtrace
