// -c/-C: a table like strace -c of the calls shown: per event (and per
// process with --per-process) the calls, errors by errno name and latency
// min/median/p99/max; plus the events lost. Pure: fed the items the
// formatter gets. Latency quantiles come from a log-linear histogram (64
// buckets per power of two: within 1.6 %); min and max are exact. Then a
// table per queue (by its descriptor context): messages and bytes sent and
// received, errors, who sent and received, and its depth at start.
#pragma once

#include "mqtrace/correlator.hpp"
#include "mqtrace/depths.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mqtrace {

class Summary {
public:
    Summary(std::vector<int> events, bool per_process); // events: the selected catalog indices, in order
    void add(const Item& it);
    std::string text() const;
    std::string json() const; // one line, {"event":"summary",...}
    // The queues' depth at start (live runs): shown for the queues whose calls came from its namespace.
    void start_depths(StartDepths d) { start_ = std::move(d); }

    struct Stats {
        std::uint64_t calls = 0, errors = 0, timed = 0;
        std::uint64_t toctou_mismatches = 0; // calls with an argument the kernel's copy of which differed
        std::uint64_t min_ns = 0, max_ns = 0;
        std::map<int, std::uint64_t> errnos;         // errno -> calls
        std::map<std::uint32_t, std::uint64_t> hist; // latency bucket -> calls
        void add(const Call& c);
        void add_ns(std::uint64_t ns);          // one more time (latency; a message's time in queue)
        std::uint64_t quantile(double q) const; // ns; 0 when nothing was timed
    };
    const Stats& of(int ev) const { return total_.at(static_cast<std::size_t>(ev)); }
    std::uint64_t lost() const { return lost_; }

    // A queue: a POSIX one by name, a System V one by identifier (POSIX first).
    struct QueueId {
        bool sysv = false;
        std::string name;       // POSIX
        std::int64_t msqid = 0; // System V
        auto operator<=>(const QueueId&) const = default;
    };
    struct QueueStats {
        std::int64_t key = 0; // System V, when has_key
        bool has_key = false;
        std::uint64_t calls = 0, errors = 0, sent = 0, received = 0, bytes_sent = 0, bytes_received = 0;
        std::map<int, std::uint64_t> errnos;
        std::map<std::pair<int, std::string>, std::uint64_t> senders, receivers; // (pid, comm) -> messages
        std::uint64_t other_senders = 0, other_receivers = 0; // messages of those past kMaxPeers
        // --flows: receives linked to their send (content or order), ambiguous, unknown; the
        // linked ones' time in queue (queued.timed of them); the most messages the model held.
        std::uint64_t linked = 0, ambiguous = 0, unknown = 0;
        Stats queued;
        std::int64_t depth_max = -1;
        StartDepth at_start;       // how full it was as tracing began (-1: not known)
        bool start_looked = false; // at_start looked up (once: by the first call from its namespace)
    };
    static constexpr std::size_t kMaxQueues = 4096, kMaxPeers = 64;
    const std::map<QueueId, QueueStats>& queues() const { return queues_; }
    std::uint64_t queue_calls_unknown() const { return queue_unknown_; }

private:
    using Table = std::vector<Stats>; // by catalog index
    void table_text(std::string& out, const Table& t) const;
    void table_json(std::string& out, const Table& t) const;
    void add_queue(const Call& c);
    void queues_text(std::string& out) const;
    void queues_json(std::string& out) const;
    std::vector<int> events_;
    bool per_process_;
    Table total_;
    std::map<std::pair<int, std::string>, Table> procs_; // (pid, comm)
    std::uint64_t lost_ = 0, lost_unknown_ = 0;          // lost records of unknown count
    std::map<QueueId, QueueStats> queues_;
    std::uint64_t queue_unknown_ = 0; // calls on a queue not known (or past kMaxQueues)
    StartDepths start_;
};

} // namespace mqtrace
