// Self-test: harmless canary calls of each event, made by mqtrace itself, whose
// decoded records must come back with the expected values before a probe plan
// is trusted (a probe that registers is not a probe that fires).
#pragma once

#include "mqtrace/correlator.hpp"

#include <string>
#include <vector>

namespace mqtrace {

class Canaries {
public:
    Canaries(); // names and keys unique to this process
    // Make the canary call of each event (catalog indices), from this thread.
    void call(const std::vector<int>& events) const;
    // "" if the call is this event's canary with every value as expected,
    // else what differs. name_src: where the queue name must have come from.
    std::string check(const Call& c, Source name_src) const;
    const std::string& name() const { return name_; }

private:
    std::string name_; // without the leading '/', as the kernel sees it
    std::string path_; // "/" + name_: what the canary passes to libc (kept alive for late reads)
    int key_;
};

} // namespace mqtrace
