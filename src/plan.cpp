// Probe planning. See include/mqtrace/plan.hpp.
#include "mqtrace/plan.hpp"

#include "mqtrace/catalog.hpp"

#include <array>
#include <cstdio>
#include <span>

namespace mqtrace {
namespace {

// Where argument N (1-based) lives at a probe point.
std::string arg_location(const KernelFacts& k, Conv conv, int n) {
    static constexpr std::array<const char*, 6> x86_regs{"%di", "%si", "%dx", "%cx", "%r8", "%r9"};
    // struct pt_regs offsets of di, si, dx, r10, r8, r9 (the syscall ABI registers).
    static constexpr std::array<int, 6> x86_ptregs{112, 104, 96, 56, 72, 64};
    const int i = n - 1;
    if (k.arch == Arch::Arm64) {
        if (conv == Conv::Direct) return "%x" + std::to_string(i);
        return "+" + std::to_string(8 * i) + "(%x0)";
    }
    if (conv == Conv::Direct) return x86_regs.at(i);
    return "+" + std::to_string(x86_ptregs.at(i)) + "(%di)";
}

std::string field_name(const std::string& key) {
    std::string out;
    for (char c : key) {
        if (c == '.')
            out += "__";
        else if (c == '$')
            out += "_";
        else if (c == '@')
            out += "u_";
        else if (c == '>')
            out += "out_";
        else
            out += c;
    }
    return out;
}

std::string int_type(const Member& m) { return (m.is_signed ? "s" : "u") + std::to_string(m.size * 8); }

void add(Probe& p, const std::string& key, const std::string& fetch, Source src, std::int64_t bias = 0) {
    Field f;
    f.name = field_name(key);
    f.key = key;
    f.fetch = fetch;
    f.src = src;
    f.bias = bias;
    p.fields.push_back(std::move(f));
}

bool point_available(const KernelFacts& k, const ProbePoint& pt, std::string* symbol) {
    if (pt.conv == Conv::PtRegs) {
        const std::string pre = k.ptregs_prefix();
        if (pre.empty()) return false;
        *symbol = pre + std::string(pt.symbol);
    } else {
        *symbol = std::string(pt.symbol);
    }
    return k.has_symbol(*symbol);
}

// Fields reading the arguments of fetch at a probe point; keys get prefix.
void add_fetch(Probe& p, const KernelFacts& k, const EventSpec& ev, std::span<const FetchItem> fetch,
               Conv conv, bool uprobe, const std::string& prefix) {
    const std::string str_type = k.ustring ? "ustring" : "string";
    // Kernel probes need +u to read user memory (5.3+); uprobes read it by default.
    const std::string udref = (k.user_deref && !uprobe) ? "+u" : "+";
    for (const auto& fi : fetch) {
        const ArgSpec& a = ev.args[arg_index(ev, fi.arg)];
        const std::string arg = prefix + std::string(a.name);
        const std::string loc = arg_location(k, conv, fi.pos);
        switch (fi.load) {
        case Load::Value: add(p, arg, loc + ":" + std::string(a.ktype), Source::Register); break;
        case Load::UserString:
            add(p, arg, loc + ":x64", Source::Register);
            add(p, arg + "$str", "+0(" + loc + "):" + str_type, Source::UserAtEntry);
            break;
        case Load::UserStruct:
            add(p, arg, loc + ":x64", Source::Register);
            for (const auto& m : a.layout->members)
                add(p, arg + "." + std::string(m.name),
                    udref + std::to_string(m.offset) + "(" + loc + "):" + int_type(m), Source::UserAtEntry);
            break;
        case Load::KernelStruct:
            // Inner points: the kernel pointer (NULL when the caller passed none), then the copy.
            add(p, arg + "$kptr", loc + ":x64", Source::Register);
            for (const auto& m : a.layout->members)
                add(p, arg + "." + std::string(m.name),
                    "+" + std::to_string(m.offset) + "(" + loc + "):" + int_type(m), Source::KernelCopy);
            break;
        case Load::KernelMtype:
            // do_msgsnd(msqid, long mtype, void __user *mtext, ...): the mtype the kernel read.
            add(p, arg + ".mtype", loc + ":s64", Source::KernelCopy);
            break;
        case Load::KernelString: add(p, arg + "$str", "+0(" + loc + "):string", Source::KernelCopy); break;
        }
    }
}

struct Point {
    const ProbePoint* pt;
    std::string symbol; // with the arch prefix
    int inner = 0;      // inner points: 1, 2... in the catalog's order (the probe's name: _in, _in2...)
};

// Entry and return on the boundary; inner kprobes add the kernel's copies.
Alternative kprobe_alternative(const KernelFacts& k, const EventSpec& ev, const Point& at,
                               std::span<const Point> inners, const std::string& group) {
    Probe entry{ProbeKind::Kprobe, group, std::string(ev.name), at.symbol, {}, Role::Entry, event_index(ev)};
    add_fetch(entry, k, ev, at.pt->fetch, at.pt->conv, false, "");
    Probe ret{ProbeKind::Kretprobe, group,          std::string(ev.name) + "_ret", at.symbol, {},
              Role::Return,         event_index(ev)};
    add(ret, "$ret", "$retval:" + std::string(at.pt->ret_type), Source::Register);
    ret.fields.back().name = "ret";
    // Output parameters, read in the caller's context as the call returns (6.9+: the
    // return probe sees the entry's $arg1, the struct pt_regs * of the syscall wrapper).
    if (k.ret_arg_n && k.user_deref && at.pt->conv == Conv::PtRegs)
        for (const OutSpec& o : ev.outs) {
            std::string loc = arg_location(k, Conv::PtRegs, arg_index(ev, o.arg) + 1);
            loc = loc.substr(0, loc.find('(')) + "($arg1)";
            const std::string key = ">" + std::string(o.name);
            if (!o.layout)
                add(ret, key, "+u" + std::to_string(o.scalar.offset) + "(" + loc + "):" + int_type(o.scalar),
                    Source::UserAtReturn);
            else
                for (const auto& m : o.layout->members)
                    add(ret, key + "." + std::string(m.name),
                        "+u" + std::to_string(m.offset) + "(" + loc + "):" + int_type(m),
                        Source::UserAtReturn);
        }
    // Blocked receivers hold a kretprobe instance each; the default (2 x CPUs) runs out.
    ret.maxactive = k.maxactive ? 64 : 0;
    Alternative alt{"kprobe " + at.symbol, {std::move(entry), std::move(ret)}};
    for (const Point& inner : inners) {
        const std::string name =
            std::string(ev.name) + "_in" + (inner.inner > 1 ? std::to_string(inner.inner) : std::string());
        Probe in{ProbeKind::Kprobe, group, name, inner.symbol, {}, Role::Inner, event_index(ev)};
        add_fetch(in, k, ev, inner.pt->fetch, inner.pt->conv, false, "");
        alt.probes.push_back(std::move(in));
        alt.label += " + " + inner.symbol;
    }
    if (!inners.empty()) alt.label += " (kernel copies)";
    return alt;
}

Alternative syscalls_alternative(const KernelFacts& k, const EventSpec& ev, const PlanOptions& opt) {
    const std::string name(ev.name);
    Probe entry{ProbeKind::Tracepoint, "syscalls", "sys_enter_" + name, "", {}, Role::Entry, event_index(ev)};
    for (std::size_t i = 0; i < ev.args.size(); ++i) {
        Field f;
        f.key = std::string(ev.args[i].name);
        f.pos = static_cast<int>(i);
        entry.fields.push_back(std::move(f));
    }
    Probe ret{ProbeKind::Tracepoint, "syscalls", "sys_exit_" + name, "", {}, Role::Return, event_index(ev)};
    Field rf;
    rf.name = "ret";
    rf.key = "$ret";
    ret.fields.push_back(std::move(rf));
    Alternative alt{"syscalls:sys_enter_" + name, {std::move(entry), std::move(ret)}};

    const bool want_uprobes =
        k.uprobe_events && !ev.libc_symbol.empty() &&
        (opt.reads == UserReads::Uprobe || (opt.reads == UserReads::Auto && !ev.per_message));
    if (want_uprobes) {
        int n = 0;
        for (const auto& libc : opt.libcs) {
            const auto idx = static_cast<std::size_t>(event_index(ev));
            const std::uint64_t off = idx < libc.offsets.size() ? libc.offsets[idx] : 0;
            if (off == 0) continue;
            char place[64];
            std::snprintf(place, sizeof place, ":0x%llx", static_cast<unsigned long long>(off));
            Probe up{ProbeKind::Uprobe, opt.group, name + "_libc" + std::to_string(n++),
                     libc.path + place, {},        Role::Wrapper,
                     event_index(ev)};
            add_fetch(up, k, ev, ev.libc_fetch, Conv::Direct, true, "@");
            alt.probes.push_back(std::move(up));
        }
        if (n > 0) alt.label += " + uprobes on " + std::to_string(n) + " libc";
    }
    return alt;
}

std::vector<Probe> task_probes(const KernelFacts& k, bool uids) {
    std::vector<Probe> out;
    auto tp = [&](const char* sys, const char* ev, Role role,
                  std::initializer_list<std::pair<const char*, const char*>> fields) {
        if (!k.has_event(std::string(sys) + "/" + ev)) return;
        Probe p{ProbeKind::Tracepoint, sys, ev, "", {}, role, -1};
        for (const auto& [name, key] : fields) {
            Field f;
            f.name = name;
            f.key = key;
            p.fields.push_back(std::move(f));
        }
        out.push_back(std::move(p));
    };
    tp("task", "task_newtask", Role::TaskNew,
       {{"pid", "pid"}, {"comm", "comm"}, {"clone_flags", "clone_flags"}});
    tp("task", "task_rename", Role::TaskRename, {{"pid", "pid"}, {"newcomm", "comm"}});
    tp("sched", "sched_process_exit", Role::TaskExit, {{"pid", "pid"}});
    if (uids) { // the new real uid, taken when the call returns 0 ("setuid" sets it only for root)
        tp("syscalls", "sys_enter_setuid", Role::UidSet, {{"uid", "setuid"}});
        tp("syscalls", "sys_exit_setuid", Role::UidDone, {{"ret", "$ret"}});
        tp("syscalls", "sys_enter_setreuid", Role::UidSet, {{"ruid", "ruid"}});
        tp("syscalls", "sys_exit_setreuid", Role::UidDone, {{"ret", "$ret"}});
        tp("syscalls", "sys_enter_setresuid", Role::UidSet, {{"ruid", "ruid"}});
        tp("syscalls", "sys_exit_setresuid", Role::UidDone, {{"ret", "$ret"}});
    }
    return out;
}

} // namespace

const char* source_name(Source s) {
    switch (s) {
    case Source::Register: return "register";
    case Source::KernelCopy: return "kernel-copy";
    case Source::UserAtEntry: return "user-at-entry";
    case Source::UserLate: return "user-late";
    case Source::UserStack: return "user-stack";
    case Source::UserAtReturn: return "user-at-return";
    }
    return "?";
}

std::string Probe::definition() const {
    std::string line;
    switch (kind) {
    case ProbeKind::Tracepoint: return "";
    case ProbeKind::Kprobe:
    case ProbeKind::Uprobe: line = "p:"; break;
    case ProbeKind::Kretprobe: line = maxactive > 0 ? "r" + std::to_string(maxactive) + ":" : "r:"; break;
    }
    line += system + "/" + event + " " + place;
    for (const auto& f : fields)
        line += " " + f.name + "=" + f.fetch;
    return line;
}

void adopt_string_fields(Probe& entry, const std::string& format) {
    if (entry.kind != ProbeKind::Tracepoint || entry.role != Role::Entry || entry.ev < 0) return;
    const EventSpec& ev = catalog()[entry.ev];
    // Field names in format order: "field:const char * u_name;\toffset:16;..."
    std::vector<std::string> args, strings;
    bool after_nr = false;
    for (std::size_t p = 0; (p = format.find("field:", p)) != std::string::npos;) {
        const std::size_t semi = format.find(';', p);
        if (semi == std::string::npos) break;
        const std::string decl = format.substr(p + 6, semi - p - 6);
        p = semi;
        const std::size_t sp = decl.find_last_of(" *");
        const std::string name = sp == std::string::npos ? decl : decl.substr(sp + 1);
        if (decl.rfind("__data_loc char[]", 0) == 0)
            strings.push_back(name);
        else if (after_nr)
            args.push_back(name);
        if (name == "__syscall_nr") after_nr = true;
    }
    for (std::size_t i = 0; i < ev.args.size() && i < args.size(); ++i) {
        if (ev.args[i].decode != Decode::Name) continue;
        // The kernel names the copy of argument ARG "__ARG_val" (kernel/trace/trace_syscalls.c).
        for (const auto& s : strings)
            if (s == "__" + args[i] + "_val") {
                Field f;
                f.name = s;
                f.key = std::string(ev.args[i].name) + "$str";
                f.src = Source::UserAtEntry;
                entry.fields.push_back(std::move(f));
                break;
            }
    }
}

std::string backend_unavailable(const KernelFacts& k, Backend b) {
    if (!k.instances) return "tracefs has no instances/ (kernel older than 3.10)";
    if (b == Backend::Kprobe) {
        if (!k.kprobe_events) return "this kernel has no kprobe events (CONFIG_KPROBE_EVENTS)";
        return "";
    }
    if (b == Backend::Syscalls) {
        if (!k.has_event("syscalls/sys_enter_mq_open"))
            return "this kernel has no syscall tracepoints (CONFIG_FTRACE_SYSCALLS)";
        return "";
    }
    return "";
}

Plan make_plan(const KernelFacts& k, Backend b, const PlanOptions& opt) {
    Plan plan{b, {}, task_probes(k, opt.track_uids)};
    const auto cat = catalog();
    for (int idx : opt.events) {
        const EventSpec& ev = cat[idx];
        EventPlan ep{idx, {}};
        if (b == Backend::Kprobe) {
            // Each boundary with all its inner points, with each alone (when
            // there are more), then alone: the self-test takes the first that
            // sees every canary as made, each value from where it should come.
            std::vector<Point> bounds, inners;
            std::vector<ProbePoint> first; // test hook: a point of the caller's choice, first
            for (const auto& [e, sym] : opt.test_first)
                if (e == idx)
                    first.push_back(ProbePoint{sym, Conv::Direct, "s64", {}, "test hook", Reach::Boundary});
            for (const auto& pt : first)
                bounds.push_back(Point{&pt, std::string(pt.symbol)});
            int inner_no = 0;
            for (const auto& pt : ev.kprobe_points) {
                std::string sym;
                if (pt.reach == Reach::Inner) ++inner_no;
                if (point_available(k, pt, &sym))
                    (pt.reach == Reach::Boundary ? bounds : inners)
                        .push_back(Point{&pt, sym, pt.reach == Reach::Inner ? inner_no : 0});
            }
            for (const auto& at : bounds) {
                if (inners.size() > 1) ep.alts.push_back(kprobe_alternative(k, ev, at, inners, opt.group));
                for (const auto& in : inners)
                    ep.alts.push_back(kprobe_alternative(k, ev, at, std::span(&in, 1), opt.group));
                ep.alts.push_back(kprobe_alternative(k, ev, at, {}, opt.group));
            }
        } else if (k.has_event("syscalls/sys_enter_" + std::string(ev.name)) &&
                   k.has_event("syscalls/sys_exit_" + std::string(ev.name))) {
            ep.alts.push_back(syscalls_alternative(k, ev, opt));
        }
        plan.events.push_back(std::move(ep));
    }
    return plan;
}

} // namespace mqtrace
