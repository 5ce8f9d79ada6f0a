// Descriptor context: see context.hpp.
#include "mqtrace/context.hpp"

#include "mqtrace/catalog.hpp"

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
        if (n < 0) {
            char dir[32];
            std::snprintf(dir, sizeof dir, "/proc/%d", pid);
            return errno == ENOENT && access(dir, F_OK) == 0 ? Fd::Closed : Fd::ProcessGone;
        }
        struct statfs fs {};
        if (statfs(path, &fs) != 0) return Fd::Closed; // closed between the two looks
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
    Fd fd(int, int, std::string&) override { return Fd::ProcessGone; }
    std::uint64_t ipc_ns(int) override { return 0; }
    std::uint64_t own_ipc_ns() override { return 0; }
    void sysv_keys(std::unordered_map<std::int64_t, std::int64_t>&) override {}
};

bool returned(const Call& c) { return c.end == CallEnd::Returned || c.end == CallEnd::EntryNotSeen; }

} // namespace

std::unique_ptr<ProcView> system_proc_view() { return std::make_unique<SystemProc>(); }
std::unique_ptr<ProcView> no_proc_view() { return std::make_unique<NoProc>(); }

// Asked once per process and round (a process id may be reused by a process
// elsewhere); once the process has exited, the last namespace seen stands for
// its calls still to come. One never seen is a namespace of its own: what it
// learned serves only its own later calls.
std::uint64_t QueueContext::ns_key(int pid) {
    auto [it, added] = ns_.try_emplace(pid, 0, 0);
    auto& [ns, round] = it->second;
    if (added || round != round_) {
        if (const std::uint64_t now = proc_.ipc_ns(pid)) ns = now;
        round = round_;
    }
    return ns ? ns : (1ull << 63) | static_cast<std::uint32_t>(pid);
}

void QueueContext::annotate(std::span<Item> items) {
    ++round_;
    if (fds_.size() > kMaxEntries) fds_.clear();
    if (ids_.size() > kMaxEntries) ids_.clear();
    if (ns_.size() > kMaxEntries) ns_.clear();
    if (proc_.live() && round_ % kPruneRounds == 0) prune();
    std::map<FdKey, std::vector<std::size_t>> posix; // calls by (pid, mqdes), checked against /proc once
    std::vector<std::size_t> sysv;                   // calls whose msqid no msgget told
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (!items[i].is_call) { // a close, an mq_open or an IPC_RMID may be among what was lost
            fds_.clear();
            ids_.clear();
            continue;
        }
        Call& c = items[i].call;
        const EventSpec& ev = catalog()[static_cast<std::size_t>(c.ev)];
        if (c.pid < 0) continue;
        const bool posix_ev = ev.family == Family::Posix;
        if (!ev.queue.returned.empty()) { // mq_open, msgget: a new reference
            if (!returned(c) || c.ret < 0) continue;
            const ArgValue& v = c.args[static_cast<std::size_t>(arg_index(ev, ev.queue.returned))];
            const bool entry = c.end == CallEnd::Returned; // its arguments are known
            if (posix_ev) {
                const FdKey k{c.pid, c.ret};
                // Only a name the caller passed, as it was at the call (a late read may not
                // be it), as its path in the mqueue file system, which /proc shows: the
                // kernel's name has no '/' (the C library drops the leading one).
                if (entry && v.content == Content::Str && v.src != Source::UserLate && !v.lossy)
                    fds_[k] = Learned{std::make_shared<const std::string>("/" + v.str), round_};
                else
                    fds_.erase(k);
            } else {
                const IdKey k{ns_key(c.pid), c.ret};
                if (entry && v.present)
                    ids_[k] = {v.raw, QueueSource::Msgget};
                else
                    ids_.erase(k);
            }
            continue;
        }
        if (ev.queue.ref.empty()) continue;
        const ArgValue& r = c.args[static_cast<std::size_t>(arg_index(ev, ev.queue.ref))];
        if (!r.present) continue;
        // A reference the kernel refused may name no queue (or a closed one).
        if (returned(c) && (c.ret == -EBADF || (!posix_ev && (c.ret == -EINVAL || c.ret == -EIDRM))))
            continue;
        if (posix_ev) {
            const FdKey k{c.pid, r.raw};
            if (auto f = fds_.find(k); f != fds_.end()) {
                if (!f->second.name) continue; // reused unseen: unknown until an mq_open returns it
                c.queue.src = QueueSource::MqOpen;
                c.queue.path = f->second.name;
            }
            posix[k].push_back(i);
            continue;
        }
        const IdKey k{ns_key(c.pid), r.raw};
        if (auto f = ids_.find(k); f != ids_.end()) {
            c.queue.key = f->second.first;
            c.queue.src = f->second.second;
        } else {
            sysv.push_back(i);
        }
        const std::int64_t cmd = ev.name == "msgctl" ? c.args[1].raw & ~kIpc64 : -1;
        if (cmd == kIpcRmid && c.end == CallEnd::Returned && c.ret == 0) ids_.erase(k);
    }
    if (!proc_.live()) return;
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
            ids_[{own, id}] = {k->second, QueueSource::Sysvipc};
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
}

// What /proc shows of each (process, descriptor) now, after the calls: it
// confirms a name learned from mq_open, or gives one (read after the call,
// shown as such), or says the descriptor was reused unseen (then no name).
void QueueContext::verify(std::span<Item> items, const std::map<FdKey, std::vector<std::size_t>>& uses) {
    for (const auto& [k, idx] : uses) {
        std::string now;
        const ProcView::Fd st = proc_.fd(k.first, static_cast<int>(k.second), now);
        auto f = fds_.find(k);
        if (st == ProcView::Fd::Queue) {
            if (f == fds_.end()) {
                const auto shown = std::make_shared<const std::string>(std::move(now));
                for (std::size_t i : idx) {
                    QueueCtx& q = items[i].call.queue;
                    if (q.src != QueueSource::None) continue;
                    q.src = QueueSource::ProcFd;
                    q.path = shown;
                }
            } else if (const std::string& was = f->second.name ? *f->second.name : now;
                       now != was && now != was + " (deleted)") {
                // Closed and reused for another queue, unseen (dup2, fork, a lost mq_open):
                // which calls came before that is not known, so none of them is named, nor
                // later ones (their records may predate the reuse) until an mq_open of it.
                for (std::size_t i : idx) {
                    QueueCtx& q = items[i].call.queue;
                    if (q.src == QueueSource::MqOpen && q.path == f->second.name) {
                        q.src = QueueSource::None;
                        q.path.reset();
                    }
                }
                f->second.name.reset();
            }
            continue;
        }
        // Closed, or not a queue now, or the process is gone: what was learned holds
        // (records of calls made before, still to be read, may come in later rounds).
        // Exited processes are forgotten by prune().
    }
}

} // namespace mqtrace
