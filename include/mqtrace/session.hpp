// tracefs session: our own instance and our own probe group, created through
// libtracefs, and removed again on every exit path (RAII). Never touches the
// top-level buffer, current_tracer, other groups or other instances.
#pragma once

#include "mqtrace/kernel.hpp"
#include "mqtrace/plan.hpp"

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct mqt_instance;

namespace mqtrace {

class TracefsError : public std::runtime_error {
public:
    TracefsError(const std::string& what, int err, std::string log = {})
        : std::runtime_error(what), err(err), error_log(std::move(log)) {}
    int err;               // errno of the failed write
    std::string error_log; // the kernel's error_log entry, if any
};

// Where tracefs is mounted (mounting it at /sys/kernel/tracing if needed);
// throws TracefsError if it cannot be found or mounted.
std::string tracing_dir();

// The owner of a group or instance named mqtrace_<pid>, if the name is ours.
int owner_pid(const std::string& name);
bool owner_alive(int pid);

class Session {
public:
    struct Options {
        std::string name;     // instance and group name: mqtrace_<pid>
        bool dry_run = false; // only log what would be written
        std::size_t buffer_kb = 4096;
        int refuse_nth = 0; // tests only: the nth probe definition is made invalid (the kernel refuses it)
    };
    // log (optional): every tracefs write, as a shell-like line ("--dry-run").
    Session(const KernelFacts& k, Options o, std::vector<std::string>* log);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    void add(const Probe& p);    // create a dynamic probe (no-op for tracepoints)
    void enable(const Probe& p); // enable in our instance
    void remove(const Probe& p); // disable, then delete a dynamic probe
    void tracing_on(bool on);
    // Record only these threads (set_event_pid), and with follow the threads
    // and processes they create from now on (options/event-fork).
    void filter_tids(const std::vector<int>& tids, bool follow);
    // The event's filter expression in our instance (before it is enabled).
    void set_filter(const Probe& p, const std::string& expr);
    std::string format(const Probe& p) const;
    std::string header_page() const;
    std::string read(const std::string& rel) const; // instance file
    std::string path(const std::string& rel) const; // instance file's full path
    std::vector<int> cpus() const;
    // kprobe_profile misses of our probes (recursion, or kretprobe instances
    // exhausted by blocked calls), by event name. Asked every read round: the
    // file is read into kept memory, and the names are views into it, valid
    // until the next call.
    const std::vector<std::pair<std::string_view, std::uint64_t>>& kprobe_misses();
    mqt_instance* instance() { return inst_; }
    const std::string& name() const { return opt_.name; }
    void teardown(); // idempotent; the destructor calls it

private:
    void write(const std::string& file, const std::string& text, bool append, bool top);
    std::string probes_file(const Probe& p) const;
    const KernelFacts& k_;
    Options opt_;
    std::vector<std::string>* log_;
    std::string dir_;
    mqt_instance* inst_ = nullptr;
    std::vector<Probe> created_;
    int profile_fd_ = -1; // kprobe_profile, opened at its first read
    std::string profile_; // its text, as last read
    std::vector<std::pair<std::string_view, std::uint64_t>> misses_;
    int added_ = 0; // probe definitions written
    std::vector<Probe> enabled_;
};

// Remove instances and probe groups left by runs that no longer exist (SIGKILL,
// power loss). Only names mqtrace_<pid> whose pid is gone are touched. Returns
// a description of what was removed, one line each.
std::vector<std::string> cleanup_stale(bool include_live_owners = false);

} // namespace mqtrace
