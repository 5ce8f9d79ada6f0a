// Message flows: see flows.hpp.
//
// A receive R takes, at some instant t between its entry and its return, the
// oldest message (in the order the sends put them in) of its class (the
// priority or type it received) among those in the queue at t. A send S puts
// its message in at some instant between its entry and its return. R is
// linked to a message m only when the trace allows no other:
//  (i)  m is the only message R's class, length and body allow, among those
//       in the queue's model and the sends in progress when R returned; or
//  (ii) m's send returned before every other candidate of R's class began
//       to be sent, no receive of the queue was in progress beside R, and no
//       earlier receive left which message it took open: whichever candidate
//       R took was put in after m, so m was in the queue then, and was the
//       oldest of its class.
// Either needs a model that holds every message of the queue: one followed
// since it was created, or since a call saw it empty with no send beside it.
// Anything lost, any send or receive whose queue or outcome is not known,
// makes the models it may touch incomplete until then.
#include "mqtrace/flows.hpp"

#include "mqtrace/catalog.hpp"

#include <algorithm>
#include <cerrno>

namespace mqtrace {
namespace {

enum class Kind : std::uint8_t { Other, Send, Receive, Create, Ctl, Attr };

struct Events { // catalog facts, looked up once
    std::vector<Kind> kind;
    int prio_arg = -1, len_arg = -1;               // mq_timedsend
    int msgp_arg = -1, msgsz_arg = -1;             // msgsnd
    int rsz_arg = -1, typ_arg = -1, rflg_arg = -1; // msgrcv
    int curmsgs = -1;                              // mq_getsetattr's oldattr member
    Events() {
        for (const EventSpec& ev : catalog()) {
            Kind k = Kind::Other;
            if (!ev.body.ptr.empty()) k = ev.body.received() ? Kind::Receive : Kind::Send;
            if (!ev.queue.returned.empty()) k = Kind::Create;
            if (ev.name == "msgctl") k = Kind::Ctl;
            if (ev.name == "mq_getsetattr") k = Kind::Attr;
            kind.push_back(k);
        }
        const EventSpec& ps = *find_event("mq_timedsend");
        prio_arg = arg_index(ps, "msg_prio");
        len_arg = arg_index(ps, "msg_len");
        const EventSpec& ss = *find_event("msgsnd");
        msgp_arg = arg_index(ss, "msgp");
        msgsz_arg = arg_index(ss, "msgsz");
        const EventSpec& sr = *find_event("msgrcv");
        rsz_arg = arg_index(sr, "msgsz");
        typ_arg = arg_index(sr, "msgtyp");
        rflg_arg = arg_index(sr, "msgflg");
        const auto& attr = *struct_layout("struct mq_attr");
        for (std::size_t m = 0; m < attr.members.size(); ++m)
            if (attr.members[m].name == "mq_curmsgs") curmsgs = static_cast<int>(m);
    }
};
// Inline: asked several times per call (the guard is one test; building it is out of line).
[[gnu::always_inline]] inline const Events& events() {
    static const Events e;
    return e;
}

inline Kind kind_of(const Call& c) { return events().kind[static_cast<std::size_t>(c.ev)]; }
inline bool sysv_of(const Call& c) {
    return catalog()[static_cast<std::size_t>(c.ev)].family == Family::SysV;
}

// Read in the caller's context (or the kernel's copy), not after the call.
bool trusted(const ArgValue& a) { return a.content != Content::None && a.src != Source::UserLate; }

// What a send call tells of its message (as far as it is known yet).
void describe(const Call& s, Flows::Msg& m) {
    const Events& e = events();
    m.from = s.ts;
    m.to = s.end == CallEnd::Returned ? s.ts_end : Flows::kRunning;
    const bool sysv = sysv_of(s);
    const ArgValue& len = s.args[static_cast<std::size_t>(sysv ? e.msgsz_arg : e.len_arg)];
    m.len_known = len.present;
    m.len = static_cast<std::uint64_t>(len.raw);
    if (!sysv) {
        const ArgValue& p = s.args[static_cast<std::size_t>(e.prio_arg)];
        m.cls_known = p.present;
        m.cls = p.raw;
    } else {
        const ArgValue& p = s.args[static_cast<std::size_t>(e.msgp_arg)];
        m.cls_known = p.content == Content::Struct && trusted(p) && !p.members.empty();
        m.cls = m.cls_known ? p.members[0] : 0;
    }
    m.body_known = s.body.content == Content::Str && trusted(s.body);
    if (m.body_known)
        m.body = s.body.str;
    else
        m.body.clear();
    m.pid = s.pid;
    m.tid = s.tid;
    m.comm = s.comm;
    m.id = 0;
    m.running = false;
}

std::uint64_t end_ts(const Call& c) { return std::max(c.ts, c.ts_end); }

} // namespace

// The round's calls are processed at their returns, in trace order; the calls
// running at each return (entered before it, returning after it: sends and
// receives, of this round or still in progress) are kept in running_. Items
// come in the order of their returns and most calls are short, so their
// entries are nearly in order already: an insertion sort puts them in order
// in about one pass.
void Flows::annotate(std::span<Item> items, std::span<const Open> open) {
    entries_.clear();
    running_.clear();
    for (Item& it : items)
        if (it.is_call && it.call.end != CallEnd::EntryNotSeen &&
            (kind_of(it.call) == Kind::Send || kind_of(it.call) == Kind::Receive))
            entries_.push_back({it.call.ts, &it.call, it.call.queue.id});
    for (const Open& o : open)
        entries_.push_back({o.call->ts, o.call, o.queue});
    for (std::size_t i = 1; i < entries_.size(); ++i)
        for (std::size_t j = i; j > 0 && entries_[j].ts < entries_[j - 1].ts; --j)
            std::swap(entries_[j], entries_[j - 1]);
    // The records a lost record stands for lie between its CPU's last record
    // and the next; the kernel reports them with the next (so do recordings
    // made before the reader placed them at the gap's start), and other CPUs'
    // records of that time may come before it in this round: a receive would
    // be linked by a model that lacks a send lost there. The gap began after
    // what earlier rounds released: forget from the start of this round.
    for (const Item& it : items)
        if (!it.is_call) {
            std::uint64_t first = it.lost.ts;
            for (const Item& x : items)
                first = std::min(first, x.is_call ? x.call.ts : x.lost.ts);
            forget(false, first);
            forget(true, first);
            break;
        }
    std::size_t next = 0;
    auto enter_before = [&](std::uint64_t ts) { // at one instant, returns first
        for (; next < entries_.size() && entries_[next].ts < ts; ++next)
            running_.push_back(entries_[next]);
    };
    for (Item& it : items) {
        if (!it.is_call) { // any call made in the gap may be among what was lost
            enter_before(it.lost.ts);
            const std::uint64_t gap_end = std::max(it.lost.ts, it.lost.until);
            forget(false, gap_end);
            forget(true, gap_end);
            // pending_ stays: a receive linked earlier to a send in progress took
            // that send's message (its call, known by thread and entry time).
            continue;
        }
        Call& c = it.call;
        if (kind_of(c) == Kind::Other) continue;
        enter_before(end_ts(c));
        for (std::size_t r = 0; r < running_.size(); ++r)
            if (running_[r].call == &c) {
                running_[r] = running_.back();
                running_.pop_back();
                break;
            }
        exit(c, c.queue.id);
    }
    running_.clear();
    if (pending_.size() > kMaxMessages) pending_.clear();
}

void Flows::annotate(std::span<Item> items, const Correlator& c, QueueContext& context) {
    open_.clear();
    c.each_open([&](const Call& call) {
        if (kind_of(call) == Kind::Send || kind_of(call) == Kind::Receive)
            open_.push_back({&call, context.identify(call)});
    });
    annotate(items, open_);
    for (std::uint64_t q : context.take_gone()) // after this round's calls, which may still have used it
        drop(q);
}

Flows::Model& Flows::model(std::uint64_t queue, bool sysv, std::uint64_t ts) {
    auto it = models_.find(queue);
    const bool added = it == models_.end();
    if (added) {
        if (models_.size() >= kMaxQueues) // all forgotten; their nodes kept for the next queues
            while (!models_.empty())
                spare_.push_back(models_.extract(models_.begin()));
        if (spare_.empty()) {
            it = models_.try_emplace(queue).first;
        } else { // a queue's model gone before: its node and messages' memory again
            auto node = std::move(spare_.back());
            spare_.pop_back();
            node.key() = queue;
            it = models_.insert(std::move(node)).position;
            it->second.complete = false;
            it->second.msgs.clear();
            it->second.maybe = 0;
            it->second.last_send = 0;
        }
        it->second.sysv = sysv;
        // Sends before this were not followed, nor those a forget reaching past it may have lost.
        it->second.since = std::max(ts, forgets_[sysv].end);
        it->second.forgot = forgets_[sysv].n;
    }
    catch_up(it->second);
    return it->second;
}

// A queue gone: its model's node kept for the next queue (queues made and
// removed call after call cost no allocation each; at most as many as models).
void Flows::drop(std::uint64_t queue) {
    auto it = models_.find(queue);
    if (it == models_.end()) return;
    if (spare_.size() < kMaxQueues)
        spare_.push_back(models_.extract(it));
    else
        models_.erase(it);
}

// The model no longer holds every message (sends are followed again from ts on).
void Flows::unfollow(Model& m, std::uint64_t ts) {
    m.complete = false;
    m.msgs.clear();
    m.maybe = 0;
    m.since = std::max(m.since, ts);
}

// So for every queue of a family: each model catches up when next used.
void Flows::forget(bool sysv, std::uint64_t ts) {
    Forgets& f = forgets_[sysv];
    ++f.n;
    f.end = std::max(f.end, ts);
    while (!f.latest.empty() && f.latest.back().second <= ts)
        f.latest.pop_back();
    f.latest.emplace_back(f.n, ts);
    if (f.latest.size() > kMaxQueues) { // rarely (ts going back): every model catches up now
        for (auto& [q, m] : models_)
            if (m.sysv == sysv) catch_up(m);
        f.latest.erase(f.latest.begin(), f.latest.end() - 1);
    }
}

// The forgets of its family a model has not applied yet: as unfollow() with
// the latest of their times (unfollow is idempotent but for since, a maximum).
void Flows::catch_up(Model& m) {
    const Forgets& f = forgets_[m.sysv];
    if (m.forgot == f.n) return;
    const auto missed = std::upper_bound(f.latest.begin(), f.latest.end(), m.forgot,
                                         [](std::uint64_t n, const auto& e) { return n < e.first; });
    if (missed != f.latest.end()) unfollow(m, missed->second);
    m.forgot = f.n;
}

void Flows::exit(Call& c, std::uint64_t queue) {
    const bool sysv = sysv_of(c);
    const bool returned = c.end == CallEnd::Returned;
    switch (kind_of(c)) {
    case Kind::Send: send(c, queue); return;
    case Kind::Receive: receive(c, queue); return;
    case Kind::Create:
        if (c.queue.created && c.queue.id && returned) {
            Model& m = model(c.queue.id, sysv, c.ts);
            // A new queue: empty; but a send to it may be among what a forget reaching past its creation
            // stands for (records lost in a gap that ends later).
            m.complete = forgets_[sysv].end < c.ts;
            m.msgs.clear();
            m.maybe = 0;
        }
        return;
    case Kind::Ctl: // IPC_RMID: the queue is gone
        if (returned && c.ret == 0 && (c.args[1].raw & ~0x100) == 0 && queue) drop(queue);
        return;
    case Kind::Attr: { // mq_getattr: no message in the queue at some instant of the call
        if (!returned || c.ret != 0 || c.outs.empty()) return;
        const ArgValue& o = c.outs[0];
        const int cur = events().curmsgs;
        if (o.content == Content::Struct && trusted(o) && cur >= 0 && o.members.size() > std::size_t(cur) &&
            o.members[static_cast<std::size_t>(cur)] == 0)
            empty_seen(c, queue);
        return;
    }
    case Kind::Other: return;
    }
}

void Flows::send(Call& c, std::uint64_t queue) {
    const bool sysv = sysv_of(c);
    std::uint64_t linked = 0; // a receive was linked to it while it ran
    if (auto p = pending_.find(c.tid); p != pending_.end()) {
        if (p->second.ts == c.ts) linked = p->second.id;
        pending_.erase(p);
    }
    const bool known = c.end == CallEnd::Returned || c.end == CallEnd::EntryNotSeen;
    if (known && c.ret >= 0) {
        c.flow.msg_id = linked ? linked : ++next_id_;
        c.flow.link = Link::Sent;
    }
    if (c.end == CallEnd::Returned && queue && (c.ret >= 0 || !linked)) {
        if (c.ret < 0) return; // nothing was sent
        Model& m = model(queue, sysv, c.ts);
        m.last_send = std::max(m.last_send, c.ts_end);
        if (linked || !m.complete) return; // taken while it was being sent; or not followed
        if (m.msgs.size() >= kMaxMessages) {
            unfollow(m, c.ts_end);
            return;
        }
        Msg& msg = m.msgs.emplace_back();
        describe(c, msg);
        msg.id = c.flow.msg_id;
        set_depth(c, m, queue);
        return;
    }
    if (known && c.ret < 0 && !linked) return; // nothing was sent
    // A message may have gone into a queue not known, or whether it went is not
    // known, or a receive was linked to a send that failed (the model was wrong).
    if (queue && c.end != CallEnd::EntryNotSeen)
        unfollow(model(queue, sysv, c.ts), end_ts(c));
    else
        forget(sysv, end_ts(c));
}

// The messages in the queue as the call returned: only when no other send or
// receive of the queue was running then (one may have moved a message before
// its own return, which the model counts only when it returns): the kernel's
// depth at that instant, never past the kernel's limits.
void Flows::set_depth(Call& c, const Model& m, std::uint64_t queue) const {
    const bool sysv = sysv_of(c);
    if (running(queue, sysv, true, c.tid) || running(queue, sysv, false, c.tid)) return;
    c.flow.depth = static_cast<std::int64_t>(m.msgs.size() - m.maybe);
}

// Is a call of the family in progress that may be a send (or receive) on the queue?
bool Flows::running(std::uint64_t queue, bool sysv, bool sends, int except_tid) const {
    for (const Entry& r : running_) {
        if (r.call->tid == except_tid || sysv_of(*r.call) != sysv) continue;
        if (kind_of(*r.call) != (sends ? Kind::Send : Kind::Receive)) continue;
        if (r.queue == queue || r.queue == 0) return true;
    }
    return false;
}

// The messages R may have taken, in cand_: the model's and those of sends in
// progress on the queue (or on a queue not known), described in run_.
void Flows::candidates(const Call& r, Model& m, std::uint64_t queue) {
    cand_.clear();
    for (std::size_t i = 0; i < m.msgs.size(); ++i) {
        m.msgs[i].index = i;
        cand_.push_back(&m.msgs[i]);
    }
    const bool sysv = sysv_of(r);
    nrun_ = 0;
    for (const Entry& run : running_) {
        const Call& s = *run.call;
        if (kind_of(s) != Kind::Send || sysv_of(s) != sysv || (run.queue != queue && run.queue != 0))
            continue;
        if (s.ts >= r.ts_end) continue;
        if (!pending_.empty())
            if (auto p = pending_.find(s.tid); p != pending_.end() && p->second.ts == s.ts)
                continue; // its message was taken by another receive
        if (nrun_ == run_.size()) run_.emplace_back();
        Msg& x = run_[nrun_++];
        describe(s, x);
        x.to = kRunning;
        x.running = true;
    }
    for (std::size_t i = 0; i < nrun_; ++i)
        cand_.push_back(&run_[i]);
}

void Flows::receive(Call& c, std::uint64_t queue) {
    const bool sysv = sysv_of(c);
    const Events& e = events();
    if (c.end != CallEnd::Returned) {
        // Whether (or from which queue) it took a message is not known.
        if (c.end == CallEnd::EntryNotSeen ? c.ret >= 0 : true) {
            if (queue && c.end != CallEnd::EntryNotSeen)
                unfollow(model(queue, sysv, c.ts), end_ts(c));
            else
                forget(sysv, end_ts(c));
        }
        if (c.end == CallEnd::EntryNotSeen && c.ret >= 0) {
            c.flow.link = Link::Unknown;
            c.flow.why = "its entry was not seen";
        }
        return;
    }
    const std::int64_t flags = sysv ? c.args[static_cast<std::size_t>(e.rflg_arg)].raw : 0;
    const std::int64_t typ = sysv ? c.args[static_cast<std::size_t>(e.typ_arg)].raw : 0;
    if (c.ret < 0) {
        const bool empty = sysv ? c.ret == -ENOMSG && typ == 0 && !(flags & (kMsgCopy | kMsgExcept))
                                : c.ret == -EAGAIN || c.ret == -ETIMEDOUT;
        if (empty) empty_seen(c, queue);
        return;
    }
    c.flow.link = Link::Unknown;
    if (queue == 0) {
        forget(sysv, c.ts_end); // it took a message from a queue not known
        c.flow.why = "its queue is not known";
        return;
    }
    Model& m = model(queue, sysv, c.ts);
    if (!m.complete) {
        c.flow.why = "the queue's messages are not all known (created before the trace, or records lost)";
        return;
    }
    if (sysv && (flags & kMsgCopy)) {
        copy(c, m, queue);
        return;
    }
    // Its class: the priority or type received (read at its return), or the one it asked for.
    bool cls_known = !c.outs.empty() && c.outs[0].content == Content::Struct && trusted(c.outs[0]) &&
                     !c.outs[0].members.empty();
    std::int64_t cls = cls_known ? c.outs[0].members[0] : 0;
    if (!cls_known && sysv && typ > 0 && !(flags & kMsgExcept)) {
        cls_known = true;
        cls = typ;
    }
    const std::uint64_t got = static_cast<std::uint64_t>(c.ret);
    const std::uint64_t asked =
        sysv ? static_cast<std::uint64_t>(c.args[static_cast<std::size_t>(e.rsz_arg)].raw) : 0;
    const bool body = c.body.content == Content::Str && trusted(c.body);
    candidates(c, m, queue);
    // Those it may have taken (kept, in cand_): of its class; without it, those
    // msgtyp allows (MSG_EXCEPT: another type; < 0: a type up to -msgtyp).
    const bool except = sysv && typ > 0 && (flags & kMsgExcept);
    auto eligible = [&](const Msg& x) {
        if (!x.cls_known) return true;
        if (cls_known) return x.cls == cls;
        if (except) return x.cls != typ;
        return !(sysv && typ < 0) || x.cls <= -typ;
    };
    std::size_t nclass = 0;
    for (std::size_t i = 0; i < cand_.size(); ++i)
        if (eligible(*cand_[i])) std::swap(cand_[i], cand_[nclass++]);
    cand_.resize(nclass);
    auto fits = [&](const Msg& x) {
        if (x.len_known && x.len != got && !(sysv && (flags & kMsgNoError) && x.len > got && got == asked))
            return false;
        if (body && x.body_known) {
            const std::size_t n = std::min(x.body.size(), c.body.str.size());
            if (x.body.compare(0, n, c.body.str, 0, n) != 0) return false;
        }
        return true;
    };
    std::size_t nfit = 0;
    const Msg* only = nullptr;
    for (const Msg* x : cand_)
        if (fits(*x)) {
            ++nfit;
            only = x;
        }
    if (nfit == 0) { // the model was wrong: it is not followed from here
        c.flow.why = "no send of the message was seen";
        unfollow(m, c.ts_end);
        return;
    }
    const Msg* chosen = nfit == 1 ? only : nullptr;
    if (!chosen && m.maybe == 0 && !running(queue, sysv, false, c.tid)) { // rule (ii)
        const Msg* first = nullptr;
        for (const Msg* x : cand_)
            if (!first || x->to < first->to) first = x;
        bool before_all = first != nullptr;
        for (const Msg* x : cand_)
            if (x != first && !(first->to < x->from)) before_all = false;
        // Without its class, the oldest must also be the one the discipline prefers
        // to every other: the highest priority (POSIX), the lowest type (msgtyp < 0),
        // any (msgtyp 0), a type known to be another (MSG_EXCEPT).
        // With its class, the oldest must be known to be of it (one of unknown class may not be).
        bool preferred = (cls_known && first && first->cls_known) || (sysv && typ == 0);
        if (!preferred && !cls_known && first && first->cls_known) {
            preferred = true;
            if (!except)
                for (const Msg* x : cand_)
                    preferred =
                        preferred && x->cls_known && (sysv ? x->cls >= first->cls : x->cls <= first->cls);
        }
        if (before_all && preferred && fits(*first)) chosen = first;
    }
    if (chosen) {
        link(c, *chosen, m, body && chosen->body_known);
        return;
    }
    c.flow.link = Link::Ambiguous;
    c.flow.candidates = static_cast<std::uint32_t>(nfit);
    bool any_running = false;
    for (const Msg* x : cand_)
        any_running = any_running || (x->running && fits(*x));
    if (any_running) { // the message it took may not be in the model yet: not followed from here
        unfollow(m, c.ts_end);
        return;
    }
    if (++m.maybe >= m.msgs.size()) { // every message of the model was taken
        m.msgs.clear();
        m.maybe = 0;
    }
    set_depth(c, m, queue);
}

// chosen: a message of the model (erased here: the last use) or a send in progress.
void Flows::link(Call& r, const Msg& chosen, Model& m, bool content) {
    r.flow.link = content ? Link::Content : Link::Order;
    r.flow.msg_id = chosen.id;
    if (chosen.running) {
        Pending& p = pending_[chosen.tid];
        p.ts = chosen.from;
        p.id = ++next_id_;
        r.flow.msg_id = p.id;
    }
    r.flow.queued_ns = chosen.to != kRunning && r.ts_end > chosen.to ? r.ts_end - chosen.to : 0;
    r.flow.from_pid = chosen.pid;
    r.flow.from_tid = chosen.tid;
    r.flow.from_comm = chosen.comm;
    if (!chosen.running && !r.flow.copy)
        m.msgs.erase(m.msgs.begin() + static_cast<std::ptrdiff_t>(chosen.index));
    set_depth(r, m, r.queue.id);
}

// msgrcv with MSG_COPY: a copy of the message at position msgtyp; the
// message stays. Linked when the model's order is certain and nothing runs beside it.
void Flows::copy(Call& c, Model& m, std::uint64_t queue) {
    const std::int64_t pos = c.args[static_cast<std::size_t>(events().typ_arg)].raw;
    const bool sysv = true;
    bool ordered = m.maybe == 0 && !running(queue, sysv, true, c.tid) && !running(queue, sysv, false, c.tid);
    for (std::size_t i = 0; i < m.msgs.size() && ordered; ++i)
        ordered = m.msgs[i].to < c.ts && (i == 0 || m.msgs[i - 1].to < m.msgs[i].from);
    if (ordered && pos >= 0 && static_cast<std::size_t>(pos) < m.msgs.size() &&
        (!m.msgs[static_cast<std::size_t>(pos)].len_known ||
         m.msgs[static_cast<std::size_t>(pos)].len == static_cast<std::uint64_t>(c.ret) ||
         (c.args[static_cast<std::size_t>(events().rflg_arg)].raw & kMsgNoError))) {
        Msg x = m.msgs[static_cast<std::size_t>(pos)];
        x.index = static_cast<std::size_t>(pos);
        x.running = false;
        c.flow.copy = true;
        const bool body = c.body.content == Content::Str && trusted(c.body) && x.body_known;
        if (body) {
            const std::size_t n = std::min(x.body.size(), c.body.str.size());
            if (x.body.compare(0, n, c.body.str, 0, n) != 0) {
                c.flow.why = "no send of the message was seen";
                unfollow(m, c.ts_end);
                return;
            }
        }
        link(c, x, m, body);
        return;
    }
    c.flow.copy = true;
    c.flow.link = Link::Ambiguous;
    c.flow.candidates = static_cast<std::uint32_t>(std::max<std::size_t>(m.msgs.size(), 1));
}

// The queue held no message at some instant of c: with no send to it beside
// c, and every send to it since `since` seen, the model is complete and empty.
void Flows::empty_seen(const Call& c, std::uint64_t queue) {
    if (queue == 0 || c.end != CallEnd::Returned) return;
    const bool sysv = sysv_of(c);
    Model& m = model(queue, sysv, c.ts_end);
    if (c.ts <= m.since || m.last_send >= c.ts || running(queue, sysv, true, c.tid)) return;
    m.complete = true;
    m.msgs.clear();
    m.maybe = 0;
}

} // namespace mqtrace
