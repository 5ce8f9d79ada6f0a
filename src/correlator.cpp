// Entry/return pairing and value assembly. See include/mqtrace/correlator.hpp.
#include "mqtrace/correlator.hpp"

#include "mqtrace/catalog.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mqtrace {
namespace {

bool has_ret_value(const Call& c) { return c.end == CallEnd::Returned || c.end == CallEnd::EntryNotSeen; }

// Values come from 64-bit registers or fields; narrow them as the C type
// says (FieldUse::narrow, resolved once from ArgSpec::ktype).
std::int64_t normalize(std::int64_t v, std::uint8_t narrow) {
    switch (narrow) {
    case 1: return static_cast<std::int32_t>(v);
    case 2: return static_cast<std::uint32_t>(v);
    case 3: return static_cast<std::uint16_t>(v);
    default: return v;
    }
}

// A struct's members vector, given room for any struct once: recycled
// values (Correlator::recycle) then hold one without allocating.
void room_for_members(ArgValue& a) {
    static const std::size_t most = max_struct_members();
    if (a.members.capacity() < most) a.members.reserve(most);
}

} // namespace

std::int64_t member_value(const std::string& bytes, const Member& m) {
    if (m.offset + m.size > bytes.size()) return 0;
    if (m.size == 2) {
        std::uint16_t v;
        std::memcpy(&v, bytes.data() + m.offset, 2);
        return v;
    }
    if (m.size == 4) {
        std::int32_t v;
        std::memcpy(&v, bytes.data() + m.offset, 4);
        if (m.is_signed) return v; // (a ?: with the unsigned value would convert it to unsigned too)
        return static_cast<std::uint32_t>(v);
    }
    std::int64_t v;
    std::memcpy(&v, bytes.data() + m.offset, 8);
    return v;
}

namespace {

// Put one decoded field into the call's argument (inline: once per field of every record).
[[gnu::always_inline]] inline void apply(ArgValue& a, const ArgSpec& spec, const FieldUse& key,
                                         const FieldValue& v) {
    if (key.str) {
        a.src = key.src;
        if (v.fault) {
            a.content = Content::Unreadable;
            a.why = "fetch faulted (address not mapped, or string too long)";
        } else {
            a.content = Content::Str;
            a.str = v.str;
            a.suspect_fault = v.str == "(fault)";
            // The event's own copy: unprintable bytes became '.', a long one was cut.
            a.lossy = key.carried && v.str.find('.') != std::string::npos;
        }
    } else if (key.member >= 0) {
        a.members.resize(spec.layout->members.size());
        a.members[static_cast<std::size_t>(key.member)] = v.num;
        a.content = Content::Struct;
        a.src = key.src;
    } else {
        a.present = true;
        // An address less its bias (do_msgsnd's msgp->mtext): modulo 2^64, as
        // the machine computes it (a hostile recording's value may be any).
        a.raw = normalize(static_cast<std::int64_t>(static_cast<std::uint64_t>(v.num) -
                                                    static_cast<std::uint64_t>(key.bias)),
                          key.narrow);
    }
}

} // namespace

bool same_content(const ArgValue& a, const ArgValue& b) {
    if (a.content != b.content) return false;
    if (a.content == Content::Str) return a.str == b.str;
    if (a.content == Content::Struct)
        return a.members.size() == b.members.size() &&
               std::equal(a.members.begin(), a.members.end(), b.members.begin());
    return true;
}

FieldUse resolve_field(int ev, std::string_view k) {
    FieldUse u;
    if (ev < 0) return u;
    if (!k.empty() && k[0] == '>') { // an output, at return: ">msg_prio", ">oldattr.mq_flags"
        k.remove_prefix(1);
        const EventSpec& spec = catalog()[ev];
        const auto dot = k.find('.');
        u.out = out_index(spec, k.substr(0, dot));
        if (u.out < 0) return u;
        const StructLayout* l = spec.outs[u.out].layout;
        if (dot == std::string_view::npos) {
            if (l) u.out = -1; // a struct is read member by member
            u.member = 0;
            return u;
        }
        for (std::size_t m = 0; l && m < l->members.size(); ++m)
            if (l->members[m].name == k.substr(dot + 1)) u.member = static_cast<int>(m);
        if (u.member < 0) u.out = -1;
        return u;
    }
    if (!k.empty() && k[0] == '@') {
        u.wrapper = true;
        k.remove_prefix(1);
    }
    const auto dot = k.find('.'), dollar = k.find('$');
    const EventSpec& spec = catalog()[ev];
    u.arg = arg_index(spec, k.substr(0, std::min(dot, dollar)));
    if (u.arg < 0) return u;
    const std::string_view kt = spec.args[u.arg].ktype;
    u.narrow = kt == "s32" ? 1 : kt == "u32" ? 2 : kt == "u16" ? 3 : 0;
    if (dollar != std::string_view::npos) {
        u.str = k.substr(dollar) == "$str";
        u.kptr = k.substr(dollar) == "$kptr";
    }
    if (dot != std::string_view::npos) {
        const StructLayout* l = spec.args[u.arg].layout;
        const std::string_view member =
            k.substr(dot + 1, dollar == std::string_view::npos ? k.npos : dollar - dot - 1);
        for (std::size_t m = 0; l && m < l->members.size(); ++m)
            if (l->members[m].name == member) u.member = static_cast<int>(m);
        if (u.member < 0) u.arg = -1; // not a member of that struct: ignored
    }
    return u;
}

Correlator::Correlator(std::vector<Probe> probes, TaskTable& tasks)
    : tasks_(tasks), spare_args_(catalog().size()), spare_outs_(catalog().size()) {
    set_probes(std::move(probes));
}

void Correlator::set_probes(std::vector<Probe> probes) {
    probes_ = std::move(probes);
    uses_.clear();
    for (const auto& p : probes_) {
        uses_.emplace_back();
        for (const auto& f : p.fields) {
            FieldUse u = resolve_field(p.ev, f.key);
            u.carried = u.str && p.kind == ProbeKind::Tracepoint && p.role == Role::Entry;
            u.src = f.src;
            u.bias = f.bias;
            uses_.back().push_back(u);
        }
    }
}

void Correlator::feed(const Record& r, std::vector<Item>& out) {
    if (r.kind == RecordKind::Lost) {
        Item it;
        it.is_call = false;
        // No CPU: kprobe_profile's misses, of the probe's event when known.
        std::string where = r.cpu >= 0 ? "ring buffer" : "kprobe misses";
        if (r.cpu < 0 && r.probe >= 0 && static_cast<std::size_t>(r.probe) < probes_.size())
            where += ": " + probes_[static_cast<std::size_t>(r.probe)].event;
        it.lost = LostNotice{r.ts, r.cpu, r.lost, std::move(where), r.until};
        out.push_back(std::move(it));
        return;
    }
    if (r.probe < 0 || r.probe >= static_cast<int>(probes_.size())) return;
    const Probe& p = probes_[r.probe];
    auto num = [&](std::size_t i) { return i < r.values.size() ? r.values[i].num : 0; };
    auto str = [&](std::size_t i) { return i < r.values.size() ? r.values[i].str : std::string(); };
    switch (p.role) {
    case Role::TaskNew:
        tasks_.on_new(r.tid, static_cast<int>(num(0)), str(1), static_cast<std::uint64_t>(num(2)));
        return;
    case Role::TaskRename: tasks_.on_rename(static_cast<int>(num(0)), str(1)); return;
    case Role::UidSet: uid_set_[r.tid] = {num(0), !p.fields.empty() && p.fields[0].key == "setuid"}; return;
    case Role::UidDone:
        if (auto it = uid_set_.find(r.tid); it != uid_set_.end()) {
            if (num(0) == 0) tasks_.on_setuid(r.tid, it->second.first, it->second.second);
            uid_set_.erase(it);
        }
        return;
    case Role::TaskExit: {
        const int tid = static_cast<int>(num(0));
        if (auto it = open_.find(tid); it != open_.end()) {
            if (it->second.ev >= 0) { // a call in progress: it never returns
                it->second.end = CallEnd::ThreadExited;
                it->second.ts_end = r.ts;
                out.push_back(Item{true, std::move(it->second), {}});
            }
            open_.erase(it);
        }
        wrapper_.erase(tid);
        tasks_.on_exit(tid);
        return;
    }
    case Role::Wrapper: wrapper_[r.tid] = r; return;
    case Role::Inner:
        if (auto it = open_.find(r.tid); it != open_.end() && it->second.ev == p.ev)
            merge_inner(it->second, r, p);
        return;
    case Role::Entry: start(r, p, out); return;
    case Role::Return: {
        auto it = open_.find(r.tid);
        if (it == open_.end() || it->second.ev != p.ev) {
            // The entry was lost (or made before the trace): shown, so that no call vanishes.
            Call c;
            c.ev = p.ev;
            c.ts = c.ts_end = r.ts;
            c.cpu = r.cpu;
            c.tid = r.tid;
            const TaskInfo& t = tasks_.lookup(r.tid);
            c.pid = t.pid;
            c.comm = t.comm;
            if (tasks_.tracks_uids()) c.uid = tasks_.uid(r.tid);
            c.end = CallEnd::EntryNotSeen;
            c.ret = num(0);
            if (catalog()[c.ev].ret != RetKind::Size) c.ret = static_cast<std::int32_t>(c.ret);
            c.args.resize(catalog()[c.ev].args.size());
            c.outs.resize(catalog()[c.ev].outs.size());
            out.push_back(Item{true, std::move(c), {}});
            return;
        }
        Call& c = it->second;
        c.end = CallEnd::Returned;
        c.ts_end = r.ts;
        c.ret = num(0);
        if (catalog()[c.ev].ret != RetKind::Size) c.ret = static_cast<std::int32_t>(c.ret);
        if (c.ret == -EFAULT) distrust_probe_reads(c);
        if (!c.outs.empty()) {
            outputs_at_return(c, r);
            // Outputs a copy of the stack taken at exit held (LateRead::arg: the output).
            for (const auto& lr : r.late) {
                if (lr.arg == kBodyArg && lr.ok) { // a received body, from the stack copy at exit
                    c.body.content = Content::Str;
                    c.body.str = lr.bytes;
                    c.body.src = Source::UserAtReturn;
                    continue;
                }
                if (lr.arg < 0 || static_cast<std::size_t>(lr.arg) >= c.outs.size() || !lr.ok) continue;
                output_from_bytes(c.outs[static_cast<std::size_t>(lr.arg)],
                                  catalog()[c.ev].outs[static_cast<std::size_t>(lr.arg)], lr.bytes,
                                  Source::UserAtReturn);
            }
        }
        out.emplace_back(true, std::move(c));
        c.ev = -1; // the thread's slot stays, for its next call
        return;
    }
    }
}

void Correlator::start(const Record& r, const Probe& p, std::vector<Item>& out) {
    Call& c = open_[r.tid]; // the thread's slot: the call is built in place
    if (c.ev >= 0) {
        // A new call on this thread: the previous one's return was lost.
        c.end = CallEnd::NoReturnSeen;
        out.emplace_back(true, std::move(c));
    }
    const EventSpec& ev = catalog()[p.ev];
    c.ev = p.ev;
    c.ts = r.ts;
    c.ts_end = 0;
    c.cpu = r.cpu;
    c.tid = r.tid;
    const TaskInfo& t = tasks_.lookup(r.tid);
    c.pid = t.pid;
    c.comm = t.comm;
    c.uid = tasks_.tracks_uids() ? tasks_.uid(r.tid) : -1;
    c.end = CallEnd::TraceEnded;
    c.ret = 0;
    // A recycled vector of a call of the same event: its values' strings and
    // members vectors have the room this event's need.
    auto& spare_args = spare_args_[static_cast<std::size_t>(p.ev)];
    if (c.args.capacity() == 0 && !spare_args.empty()) {
        c.args = std::move(spare_args.back());
        spare_args.pop_back();
        --spares_;
        // The next call's, formatted a round ago, is likely out of the cache by now.
        if (!spare_args.empty()) {
            const auto& next = spare_args.back();
            const char* p = reinterpret_cast<const char*>(next.data());
            for (std::size_t off = 0; off < next.size() * sizeof(ArgValue); off += 64)
                __builtin_prefetch(p + off, 1);
        }
    }
    // Values are reset in place, keeping their strings' memory.
    for (std::size_t i = 0; i < c.args.size() && i < ev.args.size(); ++i)
        c.args[i].reset();
    c.args.resize(ev.args.size());
    auto& spare_outs = spare_outs_[static_cast<std::size_t>(p.ev)];
    if (c.outs.capacity() == 0 && !ev.outs.empty() && !spare_outs.empty()) {
        c.outs = std::move(spare_outs.back());
        spare_outs.pop_back();
        --spares_;
    }
    for (std::size_t i = 0; i < c.outs.size() && i < ev.outs.size(); ++i)
        c.outs[i].reset();
    c.outs.resize(ev.outs.size());
    const auto& uses = uses_[static_cast<std::size_t>(r.probe)];
    const std::size_t nf = std::min(uses.size(), r.values.size());
    const FieldUse* use = uses.data();
    const FieldValue* val = r.values.data();
    ArgValue* args = c.args.data();
    for (std::size_t i = 0; i < nf; ++i)
        if (use[i].arg >= 0 && !use[i].kptr) apply(args[use[i].arg], ev.args[use[i].arg], use[i], val[i]);
    // Struct pointers that are NULL carry no content, whatever the fetch returned.
    for (std::size_t i = 0; i < ev.args.size(); ++i)
        if (ev.args[i].decode == Decode::Struct && c.args[i].present && c.args[i].raw == 0) {
            c.args[i].content = Content::None;
            c.args[i].members.clear();
        }
    if (auto w = wrapper_.find(r.tid); w != wrapper_.end()) {
        if (probes_[w->second.probe].ev == c.ev) merge_wrapper(c, w->second);
        wrapper_.erase(w);
    }
    c.body.reset();
    c.queue.src = QueueSource::None;
    c.queue.path.reset();
    c.queue.id = 0;
    c.queue.created = false;
    c.flow.reset();
    for (const auto& lr : r.late) {
        if (lr.arg == kBodyArg) { // a sent body, from the stack copy at entry
            if (!lr.ok) continue;
            c.body.content = Content::Str;
            c.body.str = lr.bytes;
            c.body.src = Source::UserStack;
            continue;
        }
        if (lr.arg < 0) continue;
        ArgValue& a = c.args.at(lr.arg);
        const ArgSpec& spec = ev.args[lr.arg];
        if (a.content != Content::None) continue;
        a.src = lr.stack ? Source::UserStack : Source::UserLate;
        if (!lr.ok) {
            a.content = Content::Unreadable;
            a.why = lr.why;
        } else if (spec.decode == Decode::Name) {
            a.content = Content::Str;
            a.str = lr.bytes;
        } else if (spec.layout) {
            a.content = Content::Struct;
            room_for_members(a);
            for (const auto& m : spec.layout->members)
                a.members.push_back(member_value(lr.bytes, m));
        }
    }
    // Outputs are not arguments: a struct the kernel does not read for this call (msgctl's
    // buf but for IPC_SET) shows as its address.
    for (std::size_t i = 0; i < ev.args.size(); ++i) {
        const InputIf* cond = ev.args[i].input_if;
        if (!cond) continue;
        const ArgValue& by = c.args[static_cast<std::size_t>(arg_index(ev, cond->arg))];
        if (!by.present || (by.raw & cond->mask) != cond->value) {
            c.args[i].content = Content::None;
            c.args[i].members.clear();
        }
    }
}

// Outputs a return probe read in the caller's context (kretprobes with $argN,
// 6.9+): what the kernel wrote, kept only when this call wrote it.
void Correlator::outputs_at_return(Call& c, const Record& r) {
    const EventSpec& ev = catalog()[c.ev];
    const auto& uses = uses_[static_cast<std::size_t>(r.probe)];
    for (std::size_t i = 0; i < uses.size() && i < r.values.size(); ++i) {
        const FieldUse& u = uses[i];
        if (u.out < 0) continue;
        const OutSpec& o = ev.outs[static_cast<std::size_t>(u.out)];
        const ArgValue& ptr =
            c.args[static_cast<std::size_t>(arg_refs(c.ev).out_ptr[static_cast<std::size_t>(u.out)])];
        if (!ptr.present || ptr.raw == 0 || !out_written(o, c.ret, cond_value(c, o))) continue;
        ArgValue& a = c.outs[static_cast<std::size_t>(u.out)];
        const std::size_t n = o.layout ? o.layout->members.size() : 1;
        room_for_members(a);
        a.members.resize(n);
        const Member& m = o.layout ? o.layout->members[static_cast<std::size_t>(u.member)] : o.scalar;
        std::int64_t v = r.values[i].num;
        if (m.size == 4)
            v = m.is_signed ? std::int64_t{static_cast<std::int32_t>(v)}
                            : std::int64_t{static_cast<std::uint32_t>(v)};
        if (m.size == 2) v = static_cast<std::uint16_t>(v);
        a.members[static_cast<std::size_t>(u.member)] = v;
        a.content = Content::Struct;
        a.src = u.src;
    }
}

void output_from_bytes(ArgValue& a, const OutSpec& o, const std::string& bytes, Source src) {
    a.content = Content::Struct;
    a.src = src;
    a.members.clear();
    room_for_members(a);
    if (o.layout)
        for (const Member& m : o.layout->members)
            a.members.push_back(member_value(bytes, m));
    else
        a.members.push_back(member_value(bytes, o.scalar));
}

std::uint64_t body_address(const Call& c) {
    const EventSpec& ev = catalog()[c.ev];
    const int p = arg_refs(c.ev).body_ptr;
    if (p < 0 || static_cast<std::size_t>(p) >= c.args.size() || !c.args[p].present || c.args[p].raw == 0)
        return 0;
    return static_cast<std::uint64_t>(c.args[p].raw) + ev.body.offset;
}

std::uint64_t body_length(const Call& c) {
    const EventSpec& ev = catalog()[c.ev];
    if (ev.body.ptr.empty()) return 0;
    if (ev.body.received()) return has_ret_value(c) && c.ret > 0 ? static_cast<std::uint64_t>(c.ret) : 0;
    const int l = arg_refs(c.ev).body_len;
    if (l < 0 || static_cast<std::size_t>(l) >= c.args.size() || !c.args[l].present) return 0;
    return static_cast<std::uint64_t>(c.args[l].raw);
}

std::int64_t cond_value(const Call& c, const OutSpec& o) {
    if (!o.when) return 0;
    const EventSpec& ev = catalog()[c.ev];
    // o is one of the event's outputs: the index of its condition's argument, resolved once.
    for (std::size_t i = 0; i < ev.outs.size(); ++i)
        if (&ev.outs[i] == &o) {
            const int ai = arg_refs(c.ev).out_when[i];
            return ai < 0 ? 0 : c.args[static_cast<std::size_t>(ai)].raw;
        }
    const int ai = arg_index(ev, o.when->arg);
    return ai < 0 ? 0 : c.args[static_cast<std::size_t>(ai)].raw;
}

// Values a libc-wrapper uprobe read in the caller's context, for arguments
// whose pointer matches what reached the kernel.
void Correlator::merge_wrapper(Call& c, const Record& w) {
    const Probe& wp = probes_[w.probe];
    const EventSpec& ev = catalog()[c.ev];
    std::vector<int> shift(ev.args.size(), -1); // -1: no match; 0: same pointer; 1: glibc's name + 1
    const auto& uses = uses_[static_cast<std::size_t>(w.probe)];
    for (std::size_t j = 0; j < wp.fields.size() && j < w.values.size(); ++j) {
        const FieldUse& key = uses[j];
        const int ai = key.arg;
        if (!key.wrapper || ai < 0 || key.member >= 0 || key.str) continue;
        const auto wa = static_cast<std::uint64_t>(w.values[j].num);
        const auto ka = static_cast<std::uint64_t>(c.args[ai].raw);
        // The wrapper's read replaces nothing but a possibly altered copy.
        if (!c.args[ai].present || ka == 0 || (c.args[ai].content != Content::None && !c.args[ai].lossy))
            continue;
        if (wa == ka)
            shift[ai] = 0;
        else if (wa + 1 == ka && ev.args[ai].decode == Decode::Name)
            shift[ai] = 1;
    }
    for (std::size_t j = 0; j < wp.fields.size() && j < w.values.size(); ++j) {
        const FieldUse& key = uses[j];
        const int ai = key.arg;
        if (!key.wrapper || ai < 0 || shift[ai] < 0 || (key.member < 0 && !key.str)) continue;
        ArgValue& a = c.args[ai];
        const std::int64_t raw = a.raw;
        apply(a, ev.args[ai], key, w.values[j]);
        a.raw = raw;
        if (shift[ai] == 1 && a.content == Content::Str) {
            if (a.str.empty() || a.str[0] != '/') { // not what glibc passed: do not guess
                a.content = Content::None;
                a.str.clear();
            } else {
                a.str.erase(0, 1);
            }
        }
    }
}

// The kernel's own copies, from a probe inside the syscall: they replace what
// the boundary read from user memory (the caller could have changed it since).
// The kernel's copies replace what the boundary probe read from the caller's
// memory at entry; where both were read, they are compared (Verify).
void Correlator::merge_inner(Call& c, const Record& r, const Probe& p) {
    const EventSpec& ev = catalog()[c.ev];
    std::uint32_t null_copy = 0, started = 0; // by argument
    const auto& uses = uses_[static_cast<std::size_t>(r.probe)];
    for (std::size_t i = 0; i < p.fields.size() && i < r.values.size(); ++i)
        if (uses[i].arg >= 0 && uses[i].kptr && r.values[i].num == 0) null_copy |= 1u << uses[i].arg;
    if (at_entry_.size() < ev.args.size()) at_entry_.resize(ev.args.size());
    for (std::size_t i = 0; i < p.fields.size() && i < r.values.size(); ++i) {
        const FieldUse& key = uses[i];
        const int ai = key.arg;
        if (ai < 0 || (key.member < 0 && !key.str) || (null_copy >> ai & 1)) continue;
        ArgValue& a = c.args[ai];
        if (!(started >> ai & 1)) { // one source per value: drop what the boundary read
            started |= 1u << ai;
            at_entry_[ai] = a;
            a.members.clear();
            a.why = {};
            a.suspect_fault = false;
        }
        apply(a, ev.args[ai], key, r.values[i]);
    }
    for (std::size_t ai = 0; ai < ev.args.size(); ++ai) {
        if (!(started >> ai & 1)) continue;
        ArgValue& a = c.args[ai];
        const ArgValue& caller = at_entry_[ai];
        const bool both =
            a.src == Source::KernelCopy && (a.content == Content::Str || a.content == Content::Struct) &&
            caller.src == Source::UserAtEntry && caller.content == a.content && !caller.suspect_fault;
        if (!both) continue;
        if (same_content(a, caller)) {
            a.verify = Verify::Verified;
        } else {
            a.verify = Verify::Mismatch;
            a.caller = std::make_shared<const ArgValue>(caller);
        }
    }
}

// A probe's read of user memory that fails leaves no mark for numbers (the
// record's slot keeps stale bytes) and "(fault)" for strings on 6.1-6.4. A
// call that failed with EFAULT may have failed on exactly that memory: show
// no struct read there, and no suspect string.
void Correlator::distrust_probe_reads(Call& c) {
    for (ArgValue& a : c.args) {
        if (a.src != Source::UserAtEntry) continue;
        if (a.content == Content::Struct || (a.content == Content::Str && a.suspect_fault)) {
            a.content = Content::Unreadable;
            a.members.clear();
            a.str.clear();
            a.suspect_fault = false;
            a.why =
                "the call failed with EFAULT: the kernel could not read it either, and a failed probe read "
                "cannot be told from a good one";
        }
    }
}

void Correlator::recycle(std::vector<Item>& done) {
    constexpr std::size_t kSpare = 4096; // vectors kept, all events together
    for (Item& it : done)
        if (it.is_call && it.call.ev >= 0 && static_cast<std::size_t>(it.call.ev) < spare_args_.size() &&
            spares_ < kSpare) {
            auto& args = spare_args_[static_cast<std::size_t>(it.call.ev)];
            auto& outs = spare_outs_[static_cast<std::size_t>(it.call.ev)];
            if (it.call.args.capacity() != 0) args.push_back(std::move(it.call.args)), ++spares_;
            if (it.call.outs.capacity() != 0) outs.push_back(std::move(it.call.outs)), ++spares_;
        }
    done.clear();
}

void Correlator::finish(std::vector<Item>& out) {
    for (auto& [tid, c] : open_) {
        if (c.ev < 0) continue;
        c.end = CallEnd::TraceEnded;
        out.push_back(Item{true, std::move(c), {}});
    }
    open_.clear();
}

} // namespace mqtrace
