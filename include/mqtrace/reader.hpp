// Per-CPU readers of trace_pipe_raw, and the merge of their records into one
// stream in timestamp order.
#pragma once

#include "mqtrace/decoder.hpp"
#include "mqtrace/recording.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct mqt_cpu;

namespace mqtrace {

class Session;

// Merges records read from several CPUs. A record is released only when no CPU
// can still deliver an older one: everything read in a drain round that began
// at time T is complete up to T (records are committed before they are
// readable), so records up to T are released in order and later ones wait for
// the next round. Records are decoded into the merger's per-CPU queues and
// stay there: the stages get pointers to them, nothing is moved or copied
// per record. Pure; tested directly.
class Merger {
public:
    // Where a CPU's records are decoded to (Decoder::decode_page), in the order
    // its buffer held them; added() then takes them in.
    RecordBuffer& queue(int cpu);
    // The records put in the queues since the last added() (for what looks
    // at records as read: late reads, -w's lost records).
    const std::vector<std::span<Record>>& fresh();
    // Take in the fresh records: each CPU's in time order (sorted if not).
    void added();
    // Forget the fresh records (a round that only records, -w).
    void drop_fresh();
    // Records given whole, of any CPUs (a recording's lost records, tests): queued and added().
    // batch is left empty.
    void push(std::vector<Record>& batch);
    void push(std::vector<Record>&& batch) { push(batch); }
    // Append the records with ts <= watermark, in timestamp order: a k-way
    // merge of the CPUs' queues (ties: the lower CPU first, then queue order).
    // The pointers stay valid until done() (or the next record put in a queue).
    void release(std::uint64_t watermark, std::vector<Record*>& out);
    void release_all(std::vector<Record*>& out);
    // The records released are done with: kept, with their memory, for the next ones.
    void done();
    std::size_t pending() const;

private:
    struct Queue {
        RecordBuffer recs;
        std::size_t head = 0;  // recs before head are released
        std::size_t added = 0; // recs from here on are fresh
    };
    std::vector<Queue> cpus_; // by CPU number
    std::vector<std::span<Record>> fresh_;
};

class Reader {
public:
    explicit Reader(Session& s, int page_size);
    ~Reader();
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    // A decoding round reads few sub-buffers per CPU: its records, calls and
    // lines then stay in the CPU's caches from decoding to writing (64 per
    // round took twice the CPU per call of 8 in a flood, and lost records).
    // Each round also asks the kernel and /proc a few things (counters,
    // namespaces, descriptors): 16 took 5-6 % less CPU than 8 in a 450 000-call
    // flood, 4 took 10 % more.
    static constexpr int kDecodePages = 16;
    static constexpr int kMaxPages = 64; // -w: sub-buffers are copied, not decoded
    struct DrainOptions {
        bool decode = true;      // false (-w): only the lost records, from the sub-buffers' headers
        bool hold_ahead = false; // leave in the kernel the CPUs that are ahead of the one furthest behind
        std::vector<RawPage>* raw = nullptr; // a copy of every sub-buffer read (-w)
        int max_pages = kMaxPages;           // per CPU
    };
    struct Drained {
        std::size_t pages = 0;
        std::uint64_t complete = 0; // every record up to here has now been read
        bool more = false;          // a CPU stopped at max_pages (or was held): read again at once
    };
    // Read the sub-buffers available now on every CPU (non-blocking; at most
    // max_pages per CPU, so that one round's memory is bounded: call again
    // at once when more). complete is ts, or less when a CPU still had
    // sub-buffers left (the time its last one read begins at; each CPU's
    // records come in time order). With hold_ahead only the CPU furthest
    // behind in time is read: the others' records wait in the kernel's
    // buffer (which may then overwrite and report them) rather than in ours.
    // Then make the losses exact: the kernel's per-CPU counts of lost events
    // (per_cpu/cpuN/stats: overrun, dropped events, commit overrun) are
    // reported in full as lost-event records, at the in-band markers where
    // the kernel flagged them, the rest at ts; each placed at the start of
    // its gap (place_losses).
    // The records go to m's queues (Merger::queue), fresh until m.added().
    Drained drain(const Decoder& d, Merger& m, std::uint64_t ts, const DrainOptions& o);
    // The kernel's per-CPU loss counters, summed, for the summary at exit.
    struct Totals {
        std::uint64_t overrun = 0, dropped = 0, commit_overrun = 0;
    };
    Totals totals() const;
    std::uint64_t reported() const; // lost events reported in records so far
    void close();                   // before the instance is removed
    std::vector<int> fds() const;   // trace_pipe_raw descriptors, for poll()

private:
    struct Cpu {
        int cpu;
        mqt_cpu* handle;
        int stats_fd;
        std::uint64_t reported = 0; // lost events reported so far
        Totals now;                 // as last read
        bool behind = false;        // sub-buffers were left unread in the last round
        std::uint64_t last_ts = 0;  // time stamp of the last sub-buffer read
        std::uint64_t read_to = 0;  // every record of this CPU up to this time has been read
    };
    void read_stats(Cpu& c) const;
    std::vector<Cpu> cpus_;
    std::vector<unsigned char> page_;
};

// Give the lost-event records of one CPU from recs[from] on (in-band markers,
// count -1 when the kernel had no room in the sub-buffer for it) counts that
// add up to lost, the events that CPU lost and nothing has reported yet:
// known counts first, then the first unknown one; what no marker carries is a
// record of its own at ts. Markers left with nothing are removed. Pure.
void reconcile_losses(RecordBuffer& recs, std::size_t from, int cpu, std::uint64_t lost, std::uint64_t ts);

// Put the lost-event records of one CPU from recs[from] on at the start of
// their gap: the kernel reports them with the first record after it, but the
// records lost lay between what had been read of that CPU (read_to: its last
// record, or the time up to which it was found empty) and it; so records
// other CPUs made in the gap come after the loss, not before it. The gap's
// end stays in until: the record the kernel flagged them at; for those only
// its counters told of, now (when the counters were read: what they count
// was made before). Updates read_to with the records read. Pure.
void place_losses(RecordBuffer& recs, std::size_t from, int cpu, std::uint64_t& read_to, std::uint64_t now);

// Parse one number from per_cpu/cpuN/stats text ("overrun: 12").
std::uint64_t stat_value(std::string_view stats, std::string_view key);

} // namespace mqtrace
