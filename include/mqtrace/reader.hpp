// Per-CPU readers of trace_pipe_raw, and the merge of their records into one
// stream in timestamp order.
#pragma once

#include "mqtrace/correlator.hpp"
#include "mqtrace/decoder.hpp"
#include "mqtrace/recording.hpp"

#include <cstdint>
#include <string>
#include <vector>

struct mqt_cpu;

namespace mqtrace {

class Session;

// Merges records read from several CPUs. A record is released only when no CPU
// can still deliver an older one: everything read in a drain round that began
// at time T is complete up to T (records are committed before they are
// readable), so records up to T are released in order and later ones wait for
// the next round. Pure; tested directly.
class Merger {
public:
    void push(std::vector<Record>&& batch);
    // Append the records with ts <= watermark, in timestamp order.
    void release(std::uint64_t watermark, std::vector<Record>& out);
    void release_all(std::vector<Record>& out);
    std::size_t pending() const { return pending_.size(); }

private:
    std::vector<Record> pending_;
};

class Reader {
public:
    explicit Reader(Session& s, int page_size);
    ~Reader();
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    // Read every sub-buffer available now on every CPU (non-blocking). Returns
    // the number of sub-buffers read.
    // raw (optional): a copy of every sub-buffer read (for --record).
    std::size_t drain(const Decoder& d, std::vector<Record>& out, std::vector<RawPage>* raw = nullptr);
    // Losses that the ring buffer does not flag in-band: per_cpu/cpuN/stats
    // "dropped events" and "commit overrun" growth since the last call.
    std::vector<LostNotice> stat_losses(std::uint64_t ts);
    // Totals for the summary at exit.
    struct Totals {
        std::uint64_t overrun = 0, dropped = 0, commit_overrun = 0;
    };
    Totals totals();
    void close();                 // before the instance is removed
    std::vector<int> fds() const; // trace_pipe_raw descriptors, for poll()

private:
    struct Cpu {
        int cpu;
        mqt_cpu* handle;
        std::uint64_t dropped = 0, commit_overrun = 0;
    };
    Session& s_;
    std::vector<Cpu> cpus_;
    std::vector<unsigned char> page_;
};

// Parse one number from per_cpu/cpuN/stats text ("overrun: 12").
std::uint64_t stat_value(const std::string& stats, const std::string& key);

} // namespace mqtrace
