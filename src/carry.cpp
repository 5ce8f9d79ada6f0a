// What a new recording file carries over. See include/mqtrace/carry.hpp.
#include "mqtrace/carry.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <unordered_set>

namespace mqtrace {
namespace {

constexpr std::uint64_t kMatchNs = 1000000; // a stack copy and its entry record: as StackQueue::take

// "ID: 123" of an event format; -1 if absent.
int format_id(std::string_view f) {
    const auto at = f.find("\nID: ");
    if (at != std::string_view::npos) return std::atoi(std::string(f.substr(at + 5, 12)).c_str());
    return f.rfind("ID: ", 0) == 0 ? std::atoi(std::string(f.substr(4, 12)).c_str()) : -1;
}

// The offset of field `name` ("field:int common_pid;\toffset:4;..."), or dflt.
std::size_t field_offset(std::string_view f, std::string_view name, std::size_t dflt) {
    for (std::size_t p = 0; (p = f.find("field:", p)) != std::string_view::npos; ++p) {
        const auto semi = f.find(';', p);
        if (semi == std::string_view::npos) break;
        std::string_view decl = f.substr(p, semi - p);
        if (const auto br = decl.find('['); br != std::string_view::npos) decl = decl.substr(0, br);
        const auto sp = decl.find_last_of(" \t*");
        if (sp == std::string_view::npos || decl.substr(sp + 1) != name) continue;
        const auto off = f.find("offset:", semi);
        if (off == std::string_view::npos) break;
        return static_cast<std::size_t>(std::atoi(std::string(f.substr(off + 7, 12)).c_str()));
    }
    return dflt;
}

} // namespace

CarryTracker::CarryTracker(const std::string& header_page, const std::vector<Probe>& table,
                           const std::vector<std::string>& formats)
    : layout_(parse_header_page(header_page)) {
    for (std::size_t i = 0; i < table.size() && i < formats.size(); ++i) {
        const Probe& p = table[i];
        const bool task = p.role == Role::TaskNew || p.role == Role::TaskRename;
        const bool used = task || p.role == Role::Wrapper || p.role == Role::Entry || p.role == Role::Inner ||
                          p.role == Role::Return || p.role == Role::TaskExit;
        const int id = format_id(formats[i]);
        if (!used || id < 0) continue;
        // The thread: common_pid, but the exiting one's field for a task exit (as the correlator reads
        // it), the new or renamed one's for task events.
        std::size_t at = field_offset(formats[i], "common_pid", 4);
        if ((task || p.role == Role::TaskExit) && !p.fields.empty())
            at = field_offset(formats[i], p.fields[0].name, at);
        ProbeUse u{p.role, p.ev, at};
        if (task && p.fields.size() >= 2) u.comm_at = field_offset(formats[i], p.fields[1].name, 0);
        if (p.role == Role::TaskNew && p.fields.size() >= 3)
            u.flags_at = field_offset(formats[i], p.fields[2].name, 0);
        if (task && (u.comm_at == 0 || (p.role == Role::TaskNew && u.flags_at == 0))) continue;
        task_events_ = task_events_ || p.role == Role::TaskNew;
        by_type_[id] = u;
    }
}

void CarryTracker::page(const PageRef& p) {
    if (!p) return;
    const auto* bytes = reinterpret_cast<const unsigned char*>(p->bytes.data());
    if (!walk_subbuffer(bytes, p->bytes.size(), layout_, walk_)) return;
    std::uint64_t last = 0;
    for (const SubbufEvent& e : walk_.events) {
        last = std::max(last, e.ts);
        if (e.size < 2) continue;
        std::uint16_t type;
        std::memcpy(&type, bytes + e.offset, 2);
        const auto u = by_type_.find(type);
        if (u == by_type_.end() || u->second.tid_at + 4 > e.size) continue;
        std::int32_t tid;
        std::memcpy(&tid, bytes + e.offset + u->second.tid_at, 4);
        if (u->second.role == Role::TaskNew || u->second.role == Role::TaskRename) {
            std::int32_t parent;
            std::memcpy(&parent, bytes + e.offset + 4, 4);
            task_event(u->second, bytes + e.offset, e.size, parent);
            continue;
        }
        Thread& t = threads_[tid];
        const Ref r{e.ts, p->cpu, tid, u->second.role, u->second.ev, p};
        if (e.ts <= settled_) { // cannot come after its mark; applied as it comes if it does
            apply(t, tid, r);
            continue;
        }
        if (t.unsettled.empty()) waiting_.push_back(tid);
        t.unsettled.push_back(r);
    }
    if (last > settled_) recent_.push_back(Written{p, last});
}

void CarryTracker::stack_copy(const StackCopy& s) { copies_[s.tid].push_back(s); }

void CarryTracker::round(std::uint64_t mark) {
    settled_ = std::max(settled_, mark);
    std::vector<int> still;
    for (int tid : waiting_) {
        Thread& t = threads_[tid];
        std::stable_sort(t.unsettled.begin(), t.unsettled.end(), [](const Ref& a, const Ref& b) {
            return a.ts != b.ts ? a.ts < b.ts : a.cpu < b.cpu; // the merger's order
        });
        std::size_t n = 0;
        for (; n < t.unsettled.size() && t.unsettled[n].ts <= settled_; ++n)
            apply(t, tid, t.unsettled[n]);
        t.unsettled.erase(t.unsettled.begin(), t.unsettled.begin() + static_cast<std::ptrdiff_t>(n));
        if (!t.unsettled.empty())
            still.push_back(tid);
        else if (t.ev < 0 && !t.wrapper)
            threads_.erase(tid);
    }
    waiting_ = std::move(still);
    // Threads gone, and nothing of theirs waiting: forgotten (a long run without a next file).
    if (exited_.size() > 4096) {
        for (int tid : exited_)
            if (!threads_.count(tid)) known_.erase(tid);
        exited_.clear();
    }
    while (!recent_.empty() && recent_.front().last <= settled_)
        recent_.pop_front();
    // Copies that can pair with no entry still to come.
    for (auto it = copies_.begin(); it != copies_.end();) {
        auto& q = it->second;
        while (!q.empty() && q.front().ts + 2 * kMatchNs < settled_)
            q.pop_front();
        it = q.empty() ? copies_.erase(it) : std::next(it);
    }
}

void CarryTracker::apply(Thread& t, int tid, const Ref& r) {
    switch (r.role) {
    case Role::Wrapper:
        t.wrapper = true;
        t.wrapper_ts = r.ts;
        t.wrapper_page = r.page;
        return;
    case Role::Entry: {
        t.ev = r.ev;
        t.from = t.wrapper ? std::min(t.wrapper_ts, r.ts) : r.ts;
        t.pages.clear();
        if (t.wrapper) t.pages.push_back(t.wrapper_page);
        if (t.pages.empty() || t.pages.back() != r.page) t.pages.push_back(r.page);
        t.wrapper = false;
        t.wrapper_page.reset();
        t.stacks.clear();
        // Its stack copy, if there is one: the nearest in time of this thread and event.
        if (auto q = copies_.find(tid); q != copies_.end()) {
            auto& d = q->second;
            while (!d.empty() && d.front().ts + kMatchNs < r.ts)
                d.pop_front();
            auto best = d.end();
            std::uint64_t gap = kMatchNs + 1;
            for (auto s = d.begin(); s != d.end() && s->ts <= r.ts + kMatchNs; ++s) {
                const std::uint64_t g = s->ts > r.ts ? s->ts - r.ts : r.ts - s->ts;
                if (s->ev == r.ev && g < gap) {
                    gap = g;
                    best = s;
                }
            }
            if (best != d.end()) {
                t.stacks.push_back(std::move(*best));
                d.erase(best);
            }
            if (d.empty()) copies_.erase(q);
        }
        return;
    }
    case Role::Inner:
        if (t.ev == r.ev && (t.pages.empty() || t.pages.back() != r.page)) t.pages.push_back(r.page);
        return;
    case Role::Return:
        if (t.ev != r.ev) return; // a return without its entry: the call in progress goes on
        t.ev = -1;
        t.pages.clear();
        t.stacks.clear();
        return;
    case Role::TaskExit:
        exited_.push_back(tid);
        t.ev = -1;
        t.pages.clear();
        t.stacks.clear();
        t.wrapper = false;
        t.wrapper_page.reset();
        return;
    default: return;
    }
}

void CarryTracker::task_event(const ProbeUse& u, const unsigned char* data, std::size_t size, int parent) {
    constexpr std::size_t kComm = 16;               // TASK_COMM_LEN
    constexpr std::uint64_t kCloneThread = 0x10000; // CLONE_THREAD
    if (u.comm_at + kComm > size || u.flags_at + 8 > size) return;
    std::int32_t tid;
    std::memcpy(&tid, data + u.tid_at, 4);
    const char* c = reinterpret_cast<const char*>(data + u.comm_at);
    const std::string comm(c, strnlen(c, kComm));
    Recording::Task& t = known_[tid];
    t.tid = tid;
    t.comm = comm;
    if (u.role == Role::TaskNew) {
        std::uint64_t flags;
        std::memcpy(&flags, data + u.flags_at, 8);
        const auto p = known_.find(parent);
        t.pid = !(flags & kCloneThread) ? tid : p != known_.end() ? p->second.pid : -1;
    } else if (t.pid == 0) {
        t.pid = -1; // renamed, never seen created: its process is not known
    }
}

void CarryTracker::seed(const std::vector<Recording::Task>& alive) {
    for (const auto& t : alive)
        known_[t.tid] = t;
}

std::vector<Recording::Task> CarryTracker::tasks(const Carry& c) {
    if (!task_events_) return {};
    const std::unordered_set<int> carried(c.threads.begin(), c.threads.end());
    for (int tid : exited_)
        if (!carried.count(tid)) known_.erase(tid);
    exited_.clear();
    std::vector<Recording::Task> out;
    for (const auto& [tid, t] : known_)
        if (t.pid > 0) out.push_back(t);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.tid < b.tid; });
    return out;
}

Carry CarryTracker::carry() const {
    Carry c;
    c.boundary = settled_;
    std::unordered_set<const RawPage*> seen;
    auto add = [&](const PageRef& p) {
        if (p && seen.insert(p.get()).second) c.pages.push_back(p);
    };
    std::vector<int> tids;
    for (const auto& [tid, t] : threads_)
        if (t.ev >= 0 || t.wrapper) tids.push_back(tid);
    std::sort(tids.begin(), tids.end()); // the same file for the same run, whatever the hash order
    for (int tid : tids) {
        const Thread& t = threads_.at(tid);
        c.open.emplace_back(tid, t.ev >= 0 ? t.from : t.wrapper_ts);
        c.threads.push_back(tid);
        if (t.ev >= 0)
            for (const auto& p : t.pages)
                add(p);
        if (t.wrapper) add(t.wrapper_page);
        for (const auto& s : t.stacks)
            c.stacks.push_back(s);
    }
    for (const auto& w : recent_)
        if (w.last > settled_) add(w.page);
    for (int tid : waiting_) // records after the boundary
        c.threads.push_back(tid);
    std::vector<int> ctids;
    for (const auto& [tid, q] : copies_)
        ctids.push_back(tid);
    std::sort(ctids.begin(), ctids.end());
    for (int tid : ctids)
        for (const auto& s : copies_.at(tid))
            c.stacks.push_back(s);
    return c;
}

} // namespace mqtrace
