// Self-test: harmless canary calls of each event, made by mqtrace itself, whose
// decoded records must come back with the expected values before a probe plan
// is trusted (a probe that registers is not a probe that fires). Canaries that
// fail early (an unreadable pointer, an invalid timeout) prove that the plan
// sees calls the kernel rejects before its inner functions.
#pragma once

#include "mqtrace/correlator.hpp"

#include <string>
#include <vector>

namespace mqtrace {

enum class CanaryKind {
    Libc,    // through the C library (what the syscalls backend's uprobes watch)
    Value,   // reaches the kernel's inner function: structs as the kernel copied them
    Fault,   // a struct or name pointer the kernel cannot read: EFAULT before any inner function
    Invalid, // a value the syscall wrapper rejects: EINVAL before any inner function
};

struct Canary {
    int ev;
    CanaryKind kind;
    std::string_view what; // for messages: "unreadable abs_timeout"
};

// Where a canary's values must have come from with the plan under test.
struct CanarySources {
    Source name = Source::UserAtEntry;     // queue names of libc canaries
    Source reached = Source::UserAtEntry;  // structs of calls that reach the inner function
    Source rejected = Source::UserAtEntry; // structs of calls the wrapper rejects
};

class Canaries {
public:
    Canaries(); // names and keys unique to this process
    // The canaries of these events (catalog indices), in the order call() makes them.
    static std::vector<Canary> of(const std::vector<int>& events);
    // Make the canary calls, from this thread.
    void call(const std::vector<Canary>& canaries) const;
    // "" if the call is this canary's with every value as expected, else what differs.
    std::string check(const Canary& k, const Call& c, const CanarySources& src) const;
    const std::string& name() const { return name_; }

private:
    std::string name_; // without the leading '/', as the kernel sees it
    std::string path_; // "/" + name_: what the canary passes to libc (kept alive for late reads)
    int key_;
};

} // namespace mqtrace
