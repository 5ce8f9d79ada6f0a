// Probe plan: from kernel facts and the catalog, the exact tracefs events to
// create for each selected syscall, with fallbacks in order of preference.
// Pure: the same facts always give the same plan (tested against recorded
// kernel profiles).
#pragma once

#include "mqtrace/kernel.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace mqtrace {

enum class Backend { Auto, Kprobe, Syscalls };
enum class ProbeKind { Kprobe, Kretprobe, Uprobe, Tracepoint };
// Entry/Return: the syscall itself, at its boundary (every call). Inner: a
// kprobe inside the syscall whose values (the kernel's own copies) fill in the
// call its entry opened on the same thread. Wrapper: a uprobe on the libc
// wrapper, whose values (keys prefixed '@') fill in arguments of the syscall
// entry that follows on the same thread. Task*: task lifecycle, for pid/comm
// attribution; UidSet/UidDone: set*uid entry and return (-u follows real uid changes).
enum class Role { Entry, Return, Wrapper, TaskNew, TaskRename, TaskExit, Inner, UidSet, UidDone };

// Where a value came from; printed in JSON as "source".
enum class Source {
    Register,     // an argument value (no memory read)
    KernelCopy,   // read from the kernel's own copy of user data
    UserAtEntry,  // read from user memory in the caller's context, at entry (TOCTOU)
    UserLate,     // read from the process's memory after the call (TOCTOU, may fail)
    UserStack,    // from the copy of the caller's stack a perf event took at syscall entry (TOCTOU)
    UserAtReturn, // output parameters: read in the caller's context as the call returned (what the kernel
                  // wrote)
};
const char* source_name(Source s);

struct Field {
    std::string name;  // field in the event format ("" = positional, see pos)
    std::string key;   // logical key: "oflag", "attr.mq_maxmsg", "name$str", "@name$str", "$ret"...
    std::string fetch; // fetch spec for dynamic probes ("+0(%di):ustring"); "" for tracepoints
    Source src = Source::Register;
    int pos = -1;          // tracepoints: index among the syscall arguments
    std::int64_t bias = 0; // subtracted from the value (do_msgsnd passes msgp->mtext)
};

struct Probe {
    ProbeKind kind;
    std::string system; // our group, or "syscalls"/"task"/"sched" for tracepoints
    std::string event;
    std::string place; // symbol, or path:0xoffset for uprobes
    std::vector<Field> fields;
    Role role;
    int ev = -1;       // catalog index, -1 for task events
    int maxactive = 0; // kretprobes: concurrent calls tracked (0 = kernel default)
    // The line written to dynamic_events/kprobe_events/uprobe_events ("" for tracepoints).
    std::string definition() const;
};

struct Alternative {
    std::string label; // e.g. "kprobe __x64_sys_mq_open + do_mq_open" or "syscalls:sys_enter_mq_open"
    std::vector<Probe> probes;
};

struct EventPlan {
    int ev;
    std::vector<Alternative> alts; // first one that passes the self-test wins
};

struct LibcTarget {
    std::string path;                   // as the processes map it
    std::vector<std::uint64_t> offsets; // by catalog event: file offset of its libc wrapper, 0 if absent
};

// Syscalls backend: how the user memory behind pointer arguments is read.
enum class UserReads {
    Auto,   // uprobes on the libc wrappers of the calls made once per queue or rarely; for the
            // calls made once per message, stack copies, then late reads (see mqtrace(8) OVERHEAD)
    Uprobe, // uprobes on the libc wrappers of all ten calls: in the caller's context
    Late,   // no uprobes: everything read after the call (shown apart, under "late")
    Stack,  // no uprobes: perf stack copies at syscall entry for pointers into the stack, late reads for the
            // rest
};

struct PlanOptions {
    std::string group;                 // unique probe group, e.g. mqtrace_1234
    std::vector<int> events;           // catalog indices
    std::vector<LibcTarget> libcs;     // for uprobes on the syscalls backend
    UserReads reads = UserReads::Auto; // syscalls backend
    bool track_uids = false; // -u: the set*uid syscall tracepoints, so real uid changes are followed
    // Tests only (MQTRACE_TEST_FIRST=event:symbol): try this kernel function
    // first as the event's boundary, to prove that the self-test rejects a
    // probe that never fires.
    std::vector<std::pair<int, std::string>> test_first;
};

struct Plan {
    Backend backend;
    std::vector<EventPlan> events;
    std::vector<Probe> tasks; // task lifecycle tracepoints (pid/comm attribution)
};

// Whether this kernel can run the backend at all ("" = yes, else the reason).
std::string backend_unavailable(const KernelFacts& k, Backend b);
Plan make_plan(const KernelFacts& k, Backend b, const PlanOptions& opt);

// Newer kernels add the user string behind a syscall's pointer argument to the
// sys_enter event itself (a "__data_loc char[]" field named after the
// argument). Given the event's format text, add such fields to a syscalls
// entry probe so the string is taken in the caller's context. Pure.
void adopt_string_fields(Probe& entry, const std::string& format);

} // namespace mqtrace
