// Descriptor context: which queue a call's mqdes or msqid refers to, like
// strace -y but system-wide (Call::queue). Learned from the calls that return
// references (mq_open's descriptor, msgget's identifier), checked against what
// /proc shows, else read there after the call; forgotten when the kernel
// forgets them (IPC_RMID, process exit) and after any lost record. Never a
// guess: when what was learned and what /proc shows disagree, nothing.
#pragma once

#include "mqtrace/correlator.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mqtrace {

// What the stage asks of the system: /proc, a fake in tests, nothing in -r.
class ProcView {
public:
    virtual ~ProcView() = default;
    // false (-r): nothing can be asked; what was learned from the calls stands alone.
    virtual bool live() const { return true; }
    enum class Fd {
        Queue,    // a queue: name is its name in the mqueue file system
        NotQueue, // open, but not a queue
        Gone,     // the process has no such descriptor, or there is no such process (or
                  // it cannot be looked at): the same to the stage, so not told apart
    };
    virtual Fd fd(int pid, int fd, std::string& name) = 0;
    // The IPC namespace of a process (inode of /proc/PID/ns/ipc), 0 if unknown.
    virtual std::uint64_t ipc_ns(int pid) = 0;
    // Our own IPC namespace, 0 if unknown.
    virtual std::uint64_t own_ipc_ns() = 0;
    // identifier -> key of every System V queue of our IPC namespace (/proc/sysvipc/msg).
    virtual void sysv_keys(std::unordered_map<std::int64_t, std::int64_t>& out) = 0;
};
std::unique_ptr<ProcView> system_proc_view(); // this machine's /proc
std::unique_ptr<ProcView> no_proc_view();     // -r: the recorded machine's /proc is not at hand

class QueueContext {
public:
    explicit QueueContext(ProcView& proc) : proc_(proc) {}
    // One round's items, in trace order: sets Call::queue of each call that
    // refers to a queue. Asks /proc at most once per process and descriptor
    // per round (the first kSeenFds of a round; others once per chunk), and a
    // process's IPC namespace once per round.
    // new_round false: more items of the round annotated last (CallStages'
    // chunks).
    void annotate(std::span<Item> items, bool new_round = true);
    // The queue a call in progress refers to (QueueCtx::id), from what was
    // learned so far (no /proc): 0 when not known.
    std::uint64_t identify(const Call& c);
    // POSIX queues that no longer exist, found when descriptors of exited
    // processes are dropped: unlinked, and no descriptor known to refer to
    // them is left (one not known would give its calls no queue). Each once.
    std::vector<std::uint64_t> take_gone();
    static constexpr std::size_t kMaxEntries = 65536; // per table: past it, everything is forgotten
    static constexpr std::uint64_t kPruneRounds =
        1024; // descriptors of exited processes are dropped this often

private:
    struct Learned {
        std::shared_ptr<const std::string> name; // nullptr: reused unseen, not known
        std::uint64_t round;                     // when it was learned
        std::uint64_t id = 0;                    // the queue (QueueCtx::id), 0: not known
        std::uint64_t opened = 0;                // when its mq_open returned
    };
    // A POSIX name in an IPC namespace: the queue it names now.
    struct Named {
        std::uint64_t id = 0;                    // 0: none yet
        bool absent = false;                     // unlinked since, and not opened again: O_CREAT creates it
        std::uint64_t unlinked = 0;              // when the last mq_unlink of it returned
        std::shared_ptr<const std::string> path; // the name, shared by the calls that use it
    };
    using NameKey = std::pair<std::uint64_t, std::string>;      // (IPC namespace, "/name")
    using NameRef = std::pair<std::uint64_t, std::string_view>; // the same, to look one up
    struct NameLess {                                           // either against either
        using is_transparent = void;
        template <typename A, typename B> bool operator()(const A& a, const B& b) const {
            return a.first != b.first ? a.first < b.first
                                      : std::string_view(a.second) < std::string_view(b.second);
        }
    };
    using FdKey = std::pair<int, std::int64_t>;           // (pid, descriptor)
    using IdKey = std::pair<std::uint64_t, std::int64_t>; // (IPC namespace, identifier)
    using NsCache = std::unordered_map<int, std::pair<std::uint64_t, std::uint64_t>>; // pid -> (ns, round)
    std::uint64_t asked_ns(NsCache& cache, int pid);
    std::uint64_t ns_key(int pid);
    std::uint64_t caller_ns(int pid);
    void prune();
    void verify(std::span<Item> items, std::span<const std::pair<FdKey, std::size_t>> uses);
    void opened(Call& c, const ArgValue& name, const FdKey& k);
    void unlinked(const Call& c, const ArgValue& name);
    std::uint64_t sysv_id(const IdKey& k, bool created);
    std::uint64_t current(int pid, std::string_view path);
    std::string_view slashed(std::string_view name);
    Named& named(std::uint64_t ns, std::string_view path); // the queue a name names now (/proc's view)
    ProcView& proc_;
    std::map<FdKey, Learned> fds_;
    std::map<IdKey, std::pair<std::int64_t, QueueSource>> ids_; // key, and how it was learned
    NsCache ns_;                                                // pid -> (IPC namespace, round asked)
    NsCache caller_ns_;                                         // the same, for QueueCtx::ns
    NsCache asked_;                                             // pid -> (what /proc said, round asked)
    std::uint64_t round_ = 0;
    std::map<NameKey, Named, NameLess> names_;
    std::string slash_;                   // slashed()'s
    std::map<IdKey, std::uint64_t> sysv_; // System V identifier -> the queue
    // Nodes of the identifiers removed (IPC_RMID), for the next ones: a queue
    // made and removed call after call costs no allocation each.
    std::vector<decltype(ids_)::node_type> spare_ids_;
    std::vector<decltype(sysv_)::node_type> spare_sysv_;
    // What /proc showed of descriptors this round (its chunks ask once; its
    // calls were all made before it was read): the first kSeenFds asked.
    struct SeenFd {
        FdKey key;
        ProcView::Fd st;
        std::string name;
    };
    static constexpr std::size_t kSeenFds = 32;
    std::vector<SeenFd> seen_fds_;
    std::size_t seen_n_ = 0;
    std::uint64_t seen_round_ = 0;
    ProcView::Fd fd_now(const FdKey& k, std::string& name);
    std::vector<std::pair<FdKey, std::size_t>> posix_uses_; // annotate's scratch, kept for its capacity
    std::vector<std::size_t> sysv_uses_;
    std::uint64_t next_id_ = 0;
    std::uint64_t blind_until_ = 0;           // the latest end of a gap of lost records (LostNotice::until)
    std::vector<std::uint64_t> unlinked_ids_; // queues unlinked, maybe still open
    std::vector<std::uint64_t> gone_;         // unlinked, and no known descriptor left
    static constexpr std::size_t kGoneCheck = 64;
    std::size_t gone_check_at_ = kGoneCheck; // find_gone() when unlinked_ids_ holds this many
    std::vector<std::uint64_t> open_ids_;    // find_gone()'s scratch
    void find_gone();
};

} // namespace mqtrace
