// Kernel facts: what this kernel's tracefs offers, read once at start (or from a
// recorded profile in tests). Everything the planner decides comes from here.
#pragma once

#include <set>
#include <string>

namespace mqtrace {

enum class Arch { X86_64, Arm64, Other };

// The raw texts a kernel offers; recorded verbatim in tests/profiles/<name>/.
struct KernelProfile {
    std::string release; // uname -r
    std::string machine; // uname -m
    std::string readme;  // tracefs README
    std::string files;   // top-level tracefs file names, one per line
    std::string symbols; // text symbols (kallsyms names, one per line; may be filtered)
    std::string events;  // "system/event" of interesting tracepoints, one per line
};

struct KernelFacts {
    std::string release;
    Arch arch = Arch::Other;
    int major = 0, minor = 0;
    bool kprobe_events = false;  // kprobe_events file present
    bool uprobe_events = false;  // uprobe_events file present
    bool dynamic_events = false; // 5.0+
    bool buffer_percent = false; // 5.0+
    bool ustring = false;        // 5.3+: ustring type
    bool user_deref = false;     // 5.3+: +u<offset>(...)
    bool arg_n = false;          // 4.20+: $argN
    bool ret_arg_n = false;      // 6.9+: $argN in return probes (the entry's value)
    bool instances = false;      // 3.10+
    bool maxactive = false;      // 4.12+: r[maxactive]: for kretprobes
    std::set<std::string> symbols;
    std::set<std::string> events;

    bool has_symbol(const std::string& s) const { return symbols.count(s) != 0; }
    bool has_event(const std::string& e) const { return events.count(e) != 0; }
    // Wrapper prefix for syscalls taking struct pt_regs *, or "" when this kernel has none.
    std::string ptregs_prefix() const;
    const char* arch_name() const;
};

KernelFacts parse_facts(const KernelProfile& p);
KernelProfile load_profile_dir(const std::string& dir); // throws std::runtime_error
// symbols: read /proc/kallsyms (slow: ~0.1 s for 120 000 lines) even where
// the kernel has no kprobe events, whose planning is all the symbols serve.
KernelProfile read_live_profile(const std::string& tracefs_dir, bool symbols = false);
// Write a profile (for recording new kernels into tests/profiles).
void save_profile_dir(const KernelProfile& p, const std::string& dir);

} // namespace mqtrace
