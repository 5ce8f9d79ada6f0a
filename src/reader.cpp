// Per-CPU reading and merging. See include/mqtrace/reader.hpp.
#include "mqtrace/reader.hpp"

#include "mqtrace/session.hpp"
#include "tracefs_shim.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mqtrace {

void Merger::push(std::vector<Record>&& batch) {
    for (auto& r : batch)
        pending_.push_back(std::move(r));
}

void Merger::release(std::uint64_t watermark, std::vector<Record>& out) {
    // Stable: records of one CPU keep their order when timestamps tie.
    std::stable_sort(pending_.begin(), pending_.end(),
                     [](const Record& a, const Record& b) { return a.ts < b.ts; });
    auto cut = std::upper_bound(pending_.begin(), pending_.end(), watermark,
                                [](std::uint64_t w, const Record& r) { return w < r.ts; });
    std::move(pending_.begin(), cut, std::back_inserter(out));
    pending_.erase(pending_.begin(), cut);
}

void Merger::release_all(std::vector<Record>& out) { release(UINT64_MAX, out); }

std::uint64_t stat_value(const std::string& stats, const std::string& key) {
    std::size_t p = 0;
    while ((p = stats.find(key + ":", p)) != std::string::npos) {
        if (p == 0 || stats[p - 1] == '\n')
            return std::strtoull(stats.c_str() + p + key.size() + 1, nullptr, 10);
        p += key.size();
    }
    return 0;
}

Reader::Reader(Session& s, int page_size) : s_(s) {
    for (int cpu : s.cpus()) {
        mqt_cpu* h = mqt_cpu_open(s.instance(), cpu, page_size);
        if (!h) throw TracefsError("cannot open trace_pipe_raw of cpu " + std::to_string(cpu), errno);
        cpus_.push_back(Cpu{cpu, h});
    }
    std::size_t size = static_cast<std::size_t>(page_size);
    for (auto& c : cpus_)
        size = std::max(size, static_cast<std::size_t>(mqt_cpu_read_size(c.handle)));
    page_.resize(size);
}

Reader::~Reader() { close(); }

std::vector<int> Reader::fds() const {
    std::vector<int> out;
    for (const auto& c : cpus_)
        out.push_back(mqt_cpu_fd(c.handle));
    return out;
}

void Reader::close() {
    for (auto& c : cpus_)
        mqt_cpu_close(c.handle);
    cpus_.clear();
}

std::size_t Reader::drain(const Decoder& d, std::vector<Record>& out, std::vector<RawPage>* raw) {
    std::size_t pages = 0;
    for (auto& c : cpus_) {
        // Bounded per round so one busy CPU cannot starve the others.
        for (int i = 0; i < 4096; ++i) {
            const int n = mqt_cpu_read(c.handle, page_.data());
            if (n <= 0) break;
            d.decode_page(c.cpu, page_.data(), static_cast<std::size_t>(n), out);
            if (raw)
                raw->push_back(RawPage{c.cpu, std::string(reinterpret_cast<const char*>(page_.data()),
                                                          static_cast<std::size_t>(n))});
            ++pages;
        }
    }
    return pages;
}

std::vector<LostNotice> Reader::stat_losses(std::uint64_t ts) {
    std::vector<LostNotice> out;
    for (auto& c : cpus_) {
        const std::string st = s_.read("per_cpu/cpu" + std::to_string(c.cpu) + "/stats");
        const std::uint64_t dropped = stat_value(st, "dropped events");
        const std::uint64_t commit = stat_value(st, "commit overrun");
        if (dropped > c.dropped)
            out.push_back(LostNotice{ts, c.cpu, static_cast<std::int64_t>(dropped - c.dropped),
                                     "ring buffer full (stats: dropped events)"});
        if (commit > c.commit_overrun)
            out.push_back(LostNotice{ts, c.cpu, static_cast<std::int64_t>(commit - c.commit_overrun),
                                     "ring buffer (stats: commit overrun)"});
        c.dropped = dropped;
        c.commit_overrun = commit;
    }
    return out;
}

Reader::Totals Reader::totals() {
    Totals t;
    for (const auto& c : cpus_) {
        const std::string st = s_.read("per_cpu/cpu" + std::to_string(c.cpu) + "/stats");
        t.overrun += stat_value(st, "overrun");
        t.dropped += stat_value(st, "dropped events");
        t.commit_overrun += stat_value(st, "commit overrun");
    }
    return t;
}

} // namespace mqtrace
