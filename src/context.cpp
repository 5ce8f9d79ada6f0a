// Descriptor context: see context.hpp.
#include "mqtrace/context.hpp"

#include "mqtrace/catalog.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

namespace mqtrace {
namespace {

constexpr std::size_t kSpareNodes = 64;

// m[k], with the node of an entry removed before when there is one.
template <typename Map>
typename Map::mapped_type& slot(Map& m, const typename Map::key_type& k,
                                std::vector<typename Map::node_type>& spare) {
    const auto it = m.lower_bound(k);
    if (it != m.end() && it->first == k) return it->second;
    if (spare.empty()) return m.emplace_hint(it, k, typename Map::mapped_type{})->second;
    auto node = std::move(spare.back());
    spare.pop_back();
    node.key() = k;
    node.mapped() = {};
    return m.insert(it, std::move(node))->second;
}

// m.erase(k), its node kept for slot().
template <typename Map>
void release(Map& m, const typename Map::key_type& k, std::vector<typename Map::node_type>& spare) {
    const auto it = m.find(k);
    if (it == m.end()) return;
    if (spare.size() < kSpareNodes)
        spare.push_back(m.extract(it));
    else
        m.erase(it);
}

constexpr long kMqueueMagic = 0x19800202; // the mqueue file system (linux/magic.h)
constexpr std::int64_t kIpcRmid = 0;      // msgctl: IPC_RMID (IPC_64 aside)
constexpr std::int64_t kIpc64 = 0x100;

class SystemProc final : public ProcView {
public:
    Fd fd(int pid, int fd, std::string& name) override {
        char path[64];
        std::snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, fd);
        char link[4096];
        const ssize_t n = readlink(path, link, sizeof link);
        if (n < 0) return Fd::Gone; // (one system call per look: no second one to tell why)
        struct statfs fs {};
        if (statfs(path, &fs) != 0) return Fd::Gone; // closed between the two looks
        if (fs.f_type != kMqueueMagic) return Fd::NotQueue;
        name.assign(link, static_cast<std::size_t>(n));
        return Fd::Queue;
    }
    std::uint64_t ipc_ns(int pid) override {
        char path[48];
        std::snprintf(path, sizeof path, "/proc/%d/ns/ipc", pid);
        struct stat st {};
        return stat(path, &st) == 0 ? st.st_ino : 0;
    }
    std::uint64_t own_ipc_ns() override {
        struct stat st {};
        return stat("/proc/self/ns/ipc", &st) == 0 ? st.st_ino : 0;
    }
    void sysv_keys(std::unordered_map<std::int64_t, std::int64_t>& out) override {
        std::ifstream in("/proc/sysvipc/msg");
        std::string line;
        std::getline(in, line); // the header
        while (std::getline(in, line)) {
            long long key = 0, id = 0;
            if (std::sscanf(line.c_str(), "%lld %lld", &key, &id) == 2) out[id] = key;
        }
    }
};

class NoProc final : public ProcView {
public:
    bool live() const override { return false; }
    Fd fd(int, int, std::string&) override { return Fd::Gone; }
    std::uint64_t ipc_ns(int) override { return 0; }
    std::uint64_t own_ipc_ns() override { return 0; }
    void sysv_keys(std::unordered_map<std::int64_t, std::int64_t>&) override {}
};

constexpr std::int64_t kCreatExcl = 01000 | 02000; // msgget: IPC_CREAT|IPC_EXCL
constexpr std::int64_t kOCreat = 0100, kOExcl = 0200;

bool returned(const Call& c) { return c.end == CallEnd::Returned || c.end == CallEnd::EntryNotSeen; }

// A name as the caller passed it at the call (not read after it, not cut by the kernel's event).
bool trusted(const ArgValue& v) { return v.content == Content::Str && v.src != Source::UserLate && !v.lossy; }

} // namespace

std::unique_ptr<ProcView> system_proc_view() { return std::make_unique<SystemProc>(); }
std::unique_ptr<ProcView> no_proc_view() { return std::make_unique<NoProc>(); }

// A process's IPC namespace, asked once per process and round (a process id
// may be reused by a process elsewhere); once the process has exited, the
// last namespace seen stands for its calls still to come (0: never seen).
std::uint64_t QueueContext::asked_ns(NsCache& cache, int pid) {
    auto [it, added] = cache.try_emplace(pid, 0, 0);
    auto& [ns, round] = it->second;
    if (added || round != round_) {
        // What /proc says this round, asked once for both caches (ns_key, caller_ns).
        auto [a, first] = asked_.try_emplace(pid, 0, 0);
        if (first || a->second.second != round_) a->second = {proc_.ipc_ns(pid), round_};
        if (const std::uint64_t now = a->second.first) ns = now;
        round = round_;
    }
    return ns;
}

// One never seen is a namespace of its own: what it learned serves only its
// own later calls.
std::uint64_t QueueContext::ns_key(int pid) {
    const std::uint64_t ns = asked_ns(ns_, pid);
    return ns ? ns : (1ull << 63) | static_cast<std::uint32_t>(pid);
}

// The caller's namespace for QueueCtx::ns (0: not known), asked apart from
// ns_key: what ns_key learns decides which calls share what msgget and
// mq_open told, which must not depend on this.
std::uint64_t QueueContext::caller_ns(int pid) { return asked_ns(caller_ns_, pid); }

void QueueContext::annotate(std::span<Item> items, bool new_round) {
    if (new_round) ++round_;
    if (fds_.size() > kMaxEntries) fds_.clear();
    if (ids_.size() > kMaxEntries) ids_.clear();
    if (ns_.size() > kMaxEntries) ns_.clear();
    if (caller_ns_.size() > kMaxEntries) caller_ns_.clear();
    if (asked_.size() > kMaxEntries) asked_.clear();
    if (names_.size() > kMaxEntries) names_.clear();
    if (sysv_.size() > kMaxEntries) sysv_.clear();
    if (new_round && proc_.live() && round_ % kPruneRounds == 0)
        prune();
    else if (new_round && unlinked_ids_.size() >= gone_check_at_)
        find_gone();
    const bool live = proc_.live(); // -r: nothing to check against
    auto& posix = posix_uses_;      // calls by (pid, mqdes), checked against /proc once
    auto& sysv = sysv_uses_;        // calls whose msqid no msgget told
    posix.clear();
    sysv.clear();
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (!items[i].is_call) { // a close, an mq_open or an IPC_RMID may be among what was lost
            fds_.clear();
            ids_.clear();
            names_.clear(); // and an mq_unlink: a name may name another queue now
            sysv_.clear();
            blind_until_ = std::max({blind_until_, items[i].lost.ts, items[i].lost.until});
            continue;
        }
        Call& c = items[i].call;
        const EventSpec& ev = catalog()[static_cast<std::size_t>(c.ev)];
        if (c.pid < 0) continue;
        const bool posix_ev = ev.family == Family::Posix;
        // Made while records were being lost (it returned before the end of
        // the gap): a lost call after it in the gap may have undone what it tells.
        const bool blind = std::max(c.ts, c.ts_end) < blind_until_;
        if (!ev.queue.returned.empty()) { // mq_open, msgget: a new reference
            if (!returned(c) || c.ret < 0) continue;
            const ArgValue& v = c.args[static_cast<std::size_t>(arg_refs(c.ev).queue_returned)];
            const bool entry =
                c.end == CallEnd::Returned && !blind; // its arguments are known, and still true
            if (posix_ev) {
                const FdKey k{c.pid, c.ret};
                // Only a name the caller passed, as it was at the call (a late read may not
                // be it), as its path in the mqueue file system, which /proc shows: the
                // kernel's name has no '/' (the C library drops the leading one).
                if (entry && trusted(v))
                    opened(c, v, k);
                else
                    fds_.erase(k);
            } else {
                const IdKey k{ns_key(c.pid), c.ret};
                if (entry && v.present)
                    slot(ids_, k, spare_ids_) = {v.raw, QueueSource::Msgget};
                else
                    release(ids_, k, spare_ids_);
                // IPC_PRIVATE, or IPC_CREAT|IPC_EXCL: a new queue.
                const std::int64_t flags = c.args[static_cast<std::size_t>(arg_index(ev, "msgflg"))].raw;
                c.queue.created = entry && v.present && (v.raw == 0 || (flags & kCreatExcl) == kCreatExcl);
                if (blind)
                    release(sysv_, k, spare_sysv_);
                else
                    c.queue.id = sysv_id(k, c.queue.created);
            }
            continue;
        }
        if (ev.name == "mq_unlink") {
            if (blind)
                names_.clear(); // which names name which queues: not known until the gap's end
            else if (returned(c) && c.ret == 0)
                unlinked(c, c.args[0]);
            continue;
        }
        if (ev.queue.ref.empty()) continue;
        const ArgValue& r = c.args[static_cast<std::size_t>(arg_refs(c.ev).queue_ref)];
        if (!r.present) continue;
        // A reference the kernel refused may name no queue (or a closed one).
        if (returned(c) && (c.ret == -EBADF || (!posix_ev && (c.ret == -EINVAL || c.ret == -EIDRM))))
            continue;
        c.queue.ns = caller_ns(c.pid);
        if (posix_ev) {
            const FdKey k{c.pid, r.raw};
            if (auto f = fds_.find(k); f != fds_.end()) {
                if (!f->second.name) continue; // reused unseen: unknown until an mq_open returns it
                c.queue.src = QueueSource::MqOpen;
                c.queue.path = f->second.name;
                c.queue.id = f->second.id;
            }
            if (live) posix.emplace_back(k, i);
            continue;
        }
        const IdKey k{ns_key(c.pid), r.raw};
        c.queue.id = sysv_id(k, false);
        if (auto f = ids_.find(k); f != ids_.end()) {
            c.queue.key = f->second.first;
            c.queue.src = f->second.second;
        } else if (live) {
            sysv.push_back(i);
        }
        const std::int64_t cmd = ev.name == "msgctl" ? c.args[1].raw & ~kIpc64 : -1;
        if (cmd == kIpcRmid && c.end == CallEnd::Returned && c.ret == 0) {
            release(ids_, k, spare_ids_);
            release(sysv_, k, spare_sysv_); // the identifier names no queue now
        }
    }
    if (!live) return;
    std::sort(posix.begin(), posix.end()); // by (pid, mqdes), each one's calls in order
    verify(items, posix);
    if (sysv.empty()) return;
    const std::uint64_t own = proc_.own_ipc_ns();
    if (own == 0) return;
    std::unordered_map<std::int64_t, std::int64_t> keys; // read once, when a call needs it
    bool read = false;
    for (std::size_t i : sysv) {
        Call& c = items[i].call;
        if (ns_key(c.pid) != own) continue; // /proc/sysvipc shows our namespace only
        if (!read) proc_.sysv_keys(keys);
        read = true;
        const std::int64_t id = c.args[static_cast<std::size_t>(arg_index(catalog()[c.ev], "msqid"))].raw;
        if (auto k = keys.find(id); k != keys.end()) {
            c.queue.src = QueueSource::Sysvipc;
            c.queue.key = k->second;
            // An identifier keeps its key while it exists: kept until IPC_RMID (or a loss).
            slot(ids_, {own, id}, spare_ids_) = {k->second, QueueSource::Sysvipc};
        }
    }
}

// Descriptors of processes that have exited are forgotten (a process that
// exits without using its descriptor again is not seen to exit).
void QueueContext::prune() {
    int last = -1;
    bool alive = true;
    for (auto f = fds_.begin(); f != fds_.end();) {
        if (f->first.first != last) {
            last = f->first.first;
            alive = proc_.ipc_ns(last) != 0;
        }
        f = alive ? std::next(f) : fds_.erase(f);
    }
    find_gone();
}

// The unlinked queues no known descriptor refers to now are gone. Asked at
// each prune, and when the unlinked ones have doubled since the last look: a
// process that makes and removes queue after queue (its descriptor number
// reused by each new one) has each gone soon, not only when it exits.
void QueueContext::find_gone() {
    if (!unlinked_ids_.empty()) {
        open_ids_.clear();
        for (const auto& [k, l] : fds_)
            open_ids_.push_back(l.id);
        std::sort(open_ids_.begin(), open_ids_.end());
        std::erase_if(unlinked_ids_, [&](std::uint64_t id) {
            if (std::binary_search(open_ids_.begin(), open_ids_.end(), id)) return false;
            gone_.push_back(id);
            return true;
        });
    }
    gone_check_at_ = std::max(kGoneCheck, 2 * unlinked_ids_.size());
}

std::vector<std::uint64_t> QueueContext::take_gone() {
    std::vector<std::uint64_t> g;
    g.swap(gone_);
    return g;
}

// What /proc shows of each (process, descriptor) now, after the calls: it
// confirms a name learned from mq_open, or gives one (read after the call,
// shown as such), or says the descriptor was reused unseen (then no name).
void QueueContext::verify(std::span<Item> items, std::span<const std::pair<FdKey, std::size_t>> uses) {
    for (std::size_t g = 0, e = 0; g < uses.size(); g = e) {
        const FdKey& k = uses[g].first;
        for (e = g + 1; e < uses.size() && uses[e].first == k;)
            ++e;
        const auto calls = uses.subspan(g, e - g); // the calls of (pid, mqdes)
        std::string now;
        const ProcView::Fd st = fd_now(k, now);
        auto f = fds_.find(k);
        if (st == ProcView::Fd::Queue) {
            if (f == fds_.end()) {
                const auto shown = std::make_shared<const std::string>(std::move(now));
                const std::uint64_t id = current(k.first, *shown);
                for (const auto& [key, i] : calls) {
                    QueueCtx& q = items[i].call.queue;
                    if (q.src != QueueSource::None) continue;
                    q.src = QueueSource::ProcFd;
                    q.path = shown;
                    q.id = id;
                }
            } else if (const std::string& was = f->second.name ? *f->second.name : now;
                       now != was && now != was + " (deleted)") {
                // Closed and reused for another queue, unseen (dup2, fork, a lost mq_open):
                // which calls came before that is not known, so none of them is named, nor
                // later ones (their records may predate the reuse) until an mq_open of it.
                for (const auto& [key, i] : calls) {
                    QueueCtx& q = items[i].call.queue;
                    if (q.src == QueueSource::MqOpen && q.path == f->second.name) {
                        q.src = QueueSource::None;
                        q.path.reset();
                        q.id = 0;
                    }
                }
                f->second.name.reset();
                f->second.id = 0;
            }
            continue;
        }
        // Closed, or not a queue now, or the process is gone: what was learned holds
        // (records of calls made before, still to be read, may come in later rounds).
        // Exited processes are forgotten by prune().
    }
}

// proc_.fd() of a descriptor, asked once per round (see seen_fds_).
ProcView::Fd QueueContext::fd_now(const FdKey& k, std::string& name) {
    if (seen_round_ != round_) {
        seen_round_ = round_;
        seen_n_ = 0;
    }
    for (std::size_t i = 0; i < seen_n_; ++i)
        if (seen_fds_[i].key == k) {
            name = seen_fds_[i].name;
            return seen_fds_[i].st;
        }
    const ProcView::Fd st = proc_.fd(k.first, static_cast<int>(k.second), name);
    if (seen_n_ < kSeenFds) {
        if (seen_fds_.size() == seen_n_) seen_fds_.emplace_back();
        SeenFd& s = seen_fds_[seen_n_++];
        s.key = k;
        s.st = st;
        s.name = name;
    }
    return st;
}

// A successful mq_open of a name the caller passed: the descriptor refers to
// the queue the name names. It created the queue with O_CREAT|O_EXCL, or with
// O_CREAT when the name was seen unlinked; an mq_unlink of the name that was
// still running when this call began leaves which queue it opened unknown.
void QueueContext::opened(Call& c, const ArgValue& name, const FdKey& k) {
    Named& n = named(ns_key(c.pid), slashed(name.str));
    if (!n.path) n.path = std::make_shared<const std::string>(slash_);
    auto path = n.path;
    const std::int64_t oflag = c.args[1].raw;
    const bool overlap = n.unlinked > c.ts;
    const bool excl = (oflag & (kOCreat | kOExcl)) == (kOCreat | kOExcl);
    c.queue.created = !overlap && (excl || (n.absent && (oflag & kOCreat)));
    if (n.id == 0 || (c.queue.created && excl)) n.id = ++next_id_;
    n.absent = false;
    c.queue.id = overlap ? 0 : n.id;
    fds_[k] = Learned{std::move(path), round_, c.queue.id, c.ts_end};
}

// A successful mq_unlink: the name names no queue now (the queue lives on
// while descriptors refer to it). An mq_open of it that returned after this
// call began may have opened either queue. A name not known: any name.
void QueueContext::unlinked(const Call& c, const ArgValue& name) {
    const std::uint64_t ns = ns_key(c.pid);
    const bool known = c.end == CallEnd::Returned && trusted(name);
    const std::string_view path = known ? slashed(name.str) : std::string_view();
    if (known) {
        Named& n = named(ns, path);
        if (n.id && unlinked_ids_.size() < kMaxEntries)
            unlinked_ids_.push_back(n.id); // gone with its last descriptor
        n.id = ++next_id_;
        n.absent = true;
        n.unlinked = c.ts_end;
    } else {
        names_.clear();
    }
    for (auto& [fk, l] : fds_)
        if (l.opened > c.ts && (!known || (l.name && *l.name == path && ns_key(fk.first) == ns))) l.id = 0;
}

// "/" + name, in scratch kept for its memory (valid until the next call).
std::string_view QueueContext::slashed(std::string_view name) {
    slash_.assign(1, '/');
    slash_.append(name);
    return slash_;
}

// names_[(ns, path)], the key made only for a name not there yet.
QueueContext::Named& QueueContext::named(std::uint64_t ns, std::string_view path) {
    auto it = names_.lower_bound(NameRef{ns, path});
    if (it == names_.end() || it->first.first != ns || it->first.second != path)
        it = names_.emplace_hint(it, NameKey{ns, std::string(path)}, Named{});
    return it->second;
}

std::uint64_t QueueContext::sysv_id(const IdKey& k, bool created) {
    std::uint64_t& id = slot(sysv_, k, spare_sysv_);
    if (id == 0 || created) id = ++next_id_;
    return id;
}

// What /proc showed after the call: the queue the name names now, if it was
// not unlinked since (" (deleted)").
std::uint64_t QueueContext::current(int pid, std::string_view path) {
    if (path.ends_with(" (deleted)")) return 0;
    Named& n = named(ns_key(pid), path);
    if (n.absent) return 0;
    if (n.id == 0) n.id = ++next_id_;
    return n.id;
}

std::uint64_t QueueContext::identify(const Call& c) {
    const EventSpec& ev = catalog()[static_cast<std::size_t>(c.ev)];
    if (ev.queue.ref.empty() || c.pid < 0) return 0;
    const ArgValue& r = c.args[static_cast<std::size_t>(arg_refs(c.ev).queue_ref)];
    if (!r.present) return 0;
    if (ev.family == Family::Posix) {
        const auto f = fds_.find({c.pid, r.raw});
        return f != fds_.end() && f->second.name ? f->second.id : 0;
    }
    const auto f = sysv_.find({ns_key(c.pid), r.raw});
    return f != sysv_.end() ? f->second : 0;
}

} // namespace mqtrace
