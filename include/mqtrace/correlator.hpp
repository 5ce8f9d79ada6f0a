// Correlator: records in trace order -> calls. Pairs entry with return per
// thread, merges in-context user strings from uprobes, fills what no probe
// captured from /proc/PID/mem (late reads), and attributes pid/comm.
#pragma once

#include "mqtrace/catalog.hpp"
#include "mqtrace/decoder.hpp"
#include "mqtrace/plan.hpp"
#include "mqtrace/tasks.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace mqtrace {

enum class Content { None, Str, Struct, Unreadable };

// A value the kernel copied, checked against the caller's memory as a probe
// read it at entry (kprobe backend): the two agree, or the caller changed it
// in between (TOCTOU). None: not both were had.
enum class Verify : std::uint8_t { None, Verified, Mismatch };

struct ArgValue;
// What the caller's memory held at entry, when the kernel's copy differs.
using CallerValue = std::shared_ptr<const ArgValue>;

struct ArgValue {
    bool present = false; // the argument's register value is known
    std::int64_t raw = 0; // scalar value, or the pointer
    Content content = Content::None;
    std::string str;                   // Content::Str
    std::vector<std::int64_t> members; // Content::Struct, parallel to the layout's members
    Source src = Source::Register;     // where the content came from
    // Content::Unreadable: the reason: static text, or kept by the
    // MemoryReader that read it (as LateRead::why): no copy per call.
    std::string_view why;
    bool suspect_fault = false; // the literal "(fault)" (6.1-6.4 failed fetch)
    // A string a newer kernel's sys_enter event carried, which may differ from
    // the caller's: the kernel writes '.' for each unprintable byte and cuts
    // it (with "...") at syscall_user_buf_size. Set when it holds a '.'.
    bool lossy = false;
    Verify verify = Verify::None; // the kernel's copy (src KernelCopy) against the caller's
    CallerValue caller;           // Verify::Mismatch: the caller's value at entry (Str or Struct)
    // As default-constructed, keeping the strings' memory (recycled calls).
    void reset() {
        present = false;
        raw = 0;
        content = Content::None;
        str.clear();
        members.clear();
        src = Source::Register;
        why = {};
        suspect_fault = false;
        lossy = false;
        verify = Verify::None;
        caller.reset();
    }
};
// Same content (Str: the bytes; Struct: the members).
bool same_content(const ArgValue& a, const ArgValue& b);

// Which queue a call's mqdes or msqid refers to (descriptor context, see
// QueueContext), and how that is known.
enum class QueueSource {
    None,    // not known
    MqOpen,  // the mq_open that returned the descriptor (and /proc did not say otherwise)
    ProcFd,  // /proc/PID/fd, read after the call (no mq_open of it was seen)
    Msgget,  // the msgget that returned the identifier
    Sysvipc, // /proc/sysvipc/msg (no msgget of it was seen)
};
struct QueueCtx {
    QueueSource src = QueueSource::None;
    std::shared_ptr<const std::string> path; // POSIX: the queue's name (shared by its calls: no copy each)
    std::int64_t key = 0;                    // System V: its key
    // The queue itself, unique within the run (0: not known): a POSIX name
    // unlinked and created again, or a System V identifier removed, is
    // another queue. Set on mq_open and msgget too (with src None).
    std::uint64_t id = 0;
    bool created = false; // mq_open, msgget: this call created the queue (empty)
    std::uint64_t ns = 0; // the caller's IPC namespace (inode of /proc/PID/ns/ipc), 0: not known
    std::string_view name() const { return path ? std::string_view(*path) : std::string_view(); }
};

// --flows: which message a call moved (see flows.hpp).
enum class Link : std::uint8_t {
    None,      // not a successful send or receive, or --flows is off
    Sent,      // a send: msg_id is its message
    Content,   // a receive linked by the order of the calls, its body compared equal to the send's
    Order,     // a receive linked by the order of the calls (bodies not both captured)
    Ambiguous, // the order of the calls allows several messages (candidates)
    Unknown,   // no link can be made (why)
};
struct Flow {
    std::uint64_t msg_id = 0;        // Sent, Content, Order: the message
    Link link = Link::None;          //
    bool copy = false;               // msgrcv MSG_COPY: a copy; the message stays in the queue
    std::uint32_t candidates = 0;    // Ambiguous: how many messages it may have taken
    const char* why = nullptr;       // Unknown: why (static text)
    std::uint64_t queued_ns = 0;     // linked: this call's return - the send's return (0 if before)
    int from_pid = -1, from_tid = 0; // linked: the sender
    std::string from_comm;           //
    std::int64_t depth = -1; // messages in the queue after the call, as the model has them (-1: not known)
    void reset() {
        msg_id = 0;
        link = Link::None;
        copy = false;
        candidates = 0;
        why = nullptr;
        queued_ns = 0;
        from_pid = -1;
        from_tid = 0;
        from_comm.clear();
        depth = -1;
    }
};

// How a call ended. EntryNotSeen: only its return was seen (the entry record
// was lost, or the call began before the trace): its return value is known,
// its arguments are not.
enum class CallEnd { Returned, ThreadExited, NoReturnSeen, TraceEnded, EntryNotSeen };

struct Call {
    int ev = -1;
    std::uint64_t ts = 0, ts_end = 0;
    int cpu = 0;
    int pid = -1, tid = 0;
    std::string comm;
    long uid = -1; // real uid at the call, when -u asks for it (TaskTable::track_uids)
    CallEnd end = CallEnd::TraceEnded;
    std::int64_t ret = 0;
    std::vector<ArgValue> args; // parallel to the catalog's args
    // Output parameters, parallel to the catalog's outs: filled (Content::Struct,
    // members parallel to the layout's, or one for a scalar) only for what the
    // kernel wrote (OutSpec, out_written), at return or read late after it.
    std::vector<ArgValue> outs;
    // --payload: the first bytes of the message body (BodySpec; Content::Str),
    // raw its whole length; at entry for a sent body, at return for a
    // received one, or read late.
    ArgValue body;
    QueueCtx queue; // the queue mqdes or msqid refers to (QueueContext)
    Flow flow;      // --flows (Flows)
};

// Where a call's body is and how long it is (0: no body, or none to show).
std::uint64_t body_address(const Call& c);
std::uint64_t body_length(const Call& c);

struct LostNotice {
    std::uint64_t ts = 0;
    int cpu = 0;             // -1: not tied to one CPU
    std::int64_t count = 0;  // -1: unknown number
    std::string where;       // "ring buffer", "stats: dropped", "kretprobe maxactive"...
    std::uint64_t until = 0; // what was lost was made before this (0: not known; ts is the gap's start)
};

struct Item {
    Item() = default;
    // The call is moved in place (emplace_back): not built empty and then assigned.
    Item(bool is_call_, Call&& c, LostNotice l = {})
        : is_call(is_call_), call(std::move(c)), lost(std::move(l)) {}
    Item(bool is_call_, const Call& c, LostNotice l = {}) : is_call(is_call_), call(c), lost(std::move(l)) {}
    bool is_call = true;
    Call call;
    LostNotice lost;
};

// What one field of a probe record is, resolved once per probe from its key
// ("attr.mq_flags", "name$str", "@name", "attr$kptr").
struct FieldUse {
    int arg = -1;         // catalog argument, -1: not an argument (task fields, "$ret")
    int member = -1;      // struct member, -1: the argument itself
    bool wrapper = false; // "@...": read by a libc-wrapper uprobe
    bool str = false;     // "$str": the string behind the pointer
    bool kptr = false;    // "$kptr": the kernel's pointer to its copy (inner probes)
    bool carried = false; // "$str" of a syscall entry tracepoint: the copy the event carries (newer kernels)
    int out = -1;         // ">name[.member]": an output parameter read at return (catalog outs)
    std::uint8_t narrow = 0; // the argument's C width: 0 as is, 1 s32, 2 u32, 3 u16 (from ArgSpec::ktype)
    Source src = Source::Register; // the probe field's (Field::src)
    std::int64_t bias = 0;         // the probe field's (Field::bias)
};
FieldUse resolve_field(int ev, std::string_view key);
// A struct member (or scalar) from the bytes of its struct, sign-extended as its C type.
std::int64_t member_value(const std::string& bytes, const Member& m);
// An output parameter decoded from the bytes the kernel wrote (its struct, or its scalar).
void output_from_bytes(ArgValue& a, const OutSpec& o, const std::string& bytes, Source src);
// The value of the argument that decides whether an output is written (msgctl's cmd), or 0.
std::int64_t cond_value(const Call& c, const OutSpec& o);

class Correlator {
public:
    // probes: the flat probe table the Decoder's Record::probe indexes.
    Correlator(std::vector<Probe> probes, TaskTable& tasks);
    void feed(const Record& r, std::vector<Item>& out);
    // End of trace: emit calls still waiting for their return.
    void finish(std::vector<Item>& out);
    void set_probes(std::vector<Probe> probes);
    // Items done with (formatted): their argument vectors are kept for the
    // next calls (no allocation per call on the hot path). Empties done.
    void recycle(std::vector<Item>& done);
    // The calls in progress (entry seen, return not yet), for --flows.
    template <typename F> void each_open(F&& f) const {
        for (const auto& [tid, c] : open_)
            if (c.ev >= 0) f(c);
    }

private:
    void start(const Record& r, const Probe& p, std::vector<Item>& out);
    void merge_wrapper(Call& c, const Record& w);
    void merge_inner(Call& c, const Record& r, const Probe& p);
    static void distrust_probe_reads(Call& c);
    void outputs_at_return(Call& c, const Record& r);
    std::vector<Probe> probes_;
    std::vector<std::vector<FieldUse>> uses_; // by probe, parallel to its fields
    TaskTable& tasks_;
    std::unordered_map<int, Call> open_;      // by tid: the call in progress (ev -1: none), kept per thread
    std::unordered_map<int, Record> wrapper_; // libc-wrapper uprobe records by tid, before the syscall
    std::vector<std::vector<std::vector<ArgValue>>> spare_args_, spare_outs_; // by event (recycle)
    std::size_t spares_ = 0;                                                  // in both, all events
    std::vector<ArgValue> at_entry_; // merge_inner: the boundary's values, to check the kernel's against
    std::unordered_map<int, std::pair<std::int64_t, bool>> uid_set_; // set*uid in progress: (ruid, is setuid)
};

} // namespace mqtrace
