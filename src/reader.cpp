// Per-CPU reading and merging. See include/mqtrace/reader.hpp.
#include "mqtrace/reader.hpp"

#include "mqtrace/session.hpp"
#include "tracefs_shim.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace mqtrace {
namespace {

// The trace clock of the instance ("mono": CLOCK_MONOTONIC).
std::uint64_t mono_ns() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<std::uint64_t>(t.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(t.tv_nsec);
}

} // namespace

RecordBuffer& Merger::queue(int cpu) {
    const auto c = static_cast<std::size_t>(std::max(cpu, 0));
    if (c >= cpus_.size()) cpus_.resize(c + 1);
    return cpus_[c].recs;
}

const std::vector<std::span<Record>>& Merger::fresh() {
    fresh_.clear();
    for (auto& q : cpus_)
        if (q.added < q.recs.size()) fresh_.emplace_back(q.recs.begin() + q.added, q.recs.size() - q.added);
    return fresh_;
}

void Merger::added() {
    auto by_ts = [](const Record& a, const Record& b) { return a.ts < b.ts; };
    for (auto& q : cpus_) {
        Record* const begin = q.recs.begin() + std::max(q.added, q.head);
        if (!std::is_sorted(begin, q.recs.end(), by_ts)) std::stable_sort(begin, q.recs.end(), by_ts);
        if (q.added > q.head && begin != q.recs.end() && by_ts(*begin, *(begin - 1)))
            std::inplace_merge(q.recs.begin() + q.head, begin, q.recs.end(), by_ts);
        q.added = q.recs.size();
    }
}

void Merger::drop_fresh() {
    for (auto& q : cpus_)
        while (q.recs.size() > q.added)
            q.recs.pop_back();
}

void Merger::push(std::vector<Record>& batch) {
    for (auto& r : batch)
        queue(r.cpu).push_back(std::move(r));
    batch.clear();
    added();
}

void Merger::release(std::uint64_t watermark, std::vector<Record*>& out) {
    out.reserve(out.size() + pending());
    // Runs, not single records: the queue whose head is oldest gives every
    // record older than the others' heads at once (one scan of the CPUs per
    // run, however many CPUs there are).
    const std::size_t k = cpus_.size();
    auto head_ts = [&](std::size_t c) { return cpus_[c].recs[cpus_[c].head].ts; };
    for (;;) {
        std::size_t best = k, next = k; // the oldest head, and the oldest among the others
        for (std::size_t c = 0; c < k; ++c) {
            const Queue& q = cpus_[c];
            if (q.head == q.added) continue;
            const std::uint64_t ts = head_ts(c);
            if (best == k || ts < head_ts(best)) {
                next = best;
                best = c;
            } else if (next == k || ts < head_ts(next)) {
                next = c;
            }
        }
        if (best == k) break;
        Queue& q = cpus_[best];
        if (head_ts(best) > watermark) break;
        // Ties go to the lower CPU: best may take a record of the next one's time only if it is lower.
        const std::uint64_t limit = next == k ? watermark : head_ts(next);
        const bool ties = next == k || best < next;
        const std::uint64_t until = std::min(limit, watermark);
        while (q.head < q.added) {
            const std::uint64_t ts = q.recs[q.head].ts;
            if (ts > until || (ts == limit && !ties && next != k)) break;
            out.push_back(&q.recs[q.head++]);
        }
    }
}

void Merger::release_all(std::vector<Record*>& out) { release(UINT64_MAX, out); }

void Merger::done() {
    // The records still waiting move to the front once at least as many were
    // released before them (a CPU held back may wait with thousands of records
    // while a few are released each round: not moved each round).
    for (auto& q : cpus_) {
        if (q.head == 0 || q.head * 2 < q.recs.size()) continue;
        q.recs.drop_front(q.head);
        q.added -= q.head;
        q.head = 0;
    }
}

std::size_t Merger::pending() const {
    std::size_t n = 0;
    for (const auto& q : cpus_)
        n += q.recs.size() - q.head;
    return n;
}

std::uint64_t stat_value(std::string_view stats, std::string_view key) {
    for (std::size_t p = 0; (p = stats.find(key, p)) != std::string_view::npos; p += key.size()) {
        const std::size_t colon = p + key.size();
        if ((p != 0 && stats[p - 1] != '\n') || colon >= stats.size() || stats[colon] != ':') continue;
        std::size_t i = colon + 1;
        while (i < stats.size() && stats[i] == ' ')
            ++i;
        std::uint64_t v = 0;
        for (; i < stats.size() && stats[i] >= '0' && stats[i] <= '9'; ++i)
            v = v * 10 + static_cast<std::uint64_t>(stats[i] - '0');
        return v;
    }
    return 0;
}

void reconcile_losses(RecordBuffer& recs, std::size_t from, int cpu, std::uint64_t lost, std::uint64_t ts) {
    std::uint64_t known = 0;
    Record* unknown = nullptr;
    for (std::size_t i = from; i < recs.size(); ++i) {
        Record& r = recs[i];
        if (r.kind != RecordKind::Lost || r.cpu != cpu) continue;
        if (r.lost >= 0) {
            // More than is left: part of it was reported earlier, at ts of a round.
            r.lost = static_cast<std::int64_t>(
                std::min<std::uint64_t>(static_cast<std::uint64_t>(r.lost), lost - known));
            known += static_cast<std::uint64_t>(r.lost);
        } else if (!unknown) {
            unknown = &r;
        } else {
            r.lost = 0;
        }
    }
    if (unknown) {
        unknown->lost = static_cast<std::int64_t>(lost - known);
    } else if (lost > known) {
        Record r;
        r.kind = RecordKind::Lost;
        r.ts = ts;
        r.cpu = cpu;
        r.lost = static_cast<std::int64_t>(lost - known);
        recs.push_back(std::move(r));
    }
    recs.remove_if(
        from, [&](const Record& r) { return r.kind == RecordKind::Lost && r.cpu == cpu && r.lost == 0; });
}

void place_losses(RecordBuffer& recs, std::size_t from, int cpu, std::uint64_t& read_to, std::uint64_t now) {
    for (std::size_t i = from; i < recs.size(); ++i) {
        Record& r = recs[i];
        if (r.cpu != cpu) continue;
        if (r.kind != RecordKind::Lost) {
            read_to = std::max(read_to, r.ts);
            continue;
        }
        if (!r.until) r.until = std::max(now, r.ts); // counted, not flagged: lost by the time counted
        if (read_to && read_to < r.ts) r.ts = read_to + 1;
    }
}

Reader::Reader(Session& s, int page_size) {
    for (int cpu : s.cpus()) {
        mqt_cpu* h = mqt_cpu_open(s.instance(), cpu, page_size);
        if (!h) throw TracefsError("cannot open trace_pipe_raw of cpu " + std::to_string(cpu), errno);
        const std::string stats = s.path("per_cpu/cpu" + std::to_string(cpu) + "/stats");
        const int fd = open(stats.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            const int err = errno;
            mqt_cpu_close(h);
            throw TracefsError("cannot open " + stats + ": " + std::strerror(err), err);
        }
        cpus_.push_back(Cpu{cpu, h, fd, 0, {}});
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
    for (auto& c : cpus_) {
        mqt_cpu_close(c.handle);
        ::close(c.stats_fd);
    }
    cpus_.clear();
}

void Reader::read_stats(Cpu& c) const {
    char buf[512];
    const ssize_t n = pread(c.stats_fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return; // keep the last values: losses are then reported at the next read
    const std::string_view st(buf, static_cast<std::size_t>(n)); // no copy: read every round
    c.now.overrun = stat_value(st, "overrun");
    c.now.dropped = stat_value(st, "dropped events");
    c.now.commit_overrun = stat_value(st, "commit overrun");
}

Reader::Drained Reader::drain(const Decoder& d, Merger& m, std::uint64_t ts, const DrainOptions& o) {
    Drained r{0, ts};
    // The CPU furthest behind in time: with hold_ahead only it (and any tied
    // with it) is read, the others wait in the kernel's buffer, not in ours.
    bool any_behind = false;
    std::uint64_t slowest = UINT64_MAX;
    for (const auto& c : cpus_)
        if (c.behind) {
            any_behind = true;
            slowest = std::min(slowest, c.last_ts);
        }
    for (auto& c : cpus_) {
        RecordBuffer& out = m.queue(c.cpu);
        const std::size_t from = out.size();
        const bool hold = o.hold_ahead && any_behind && (!c.behind || c.last_ts > slowest);
        c.behind = true;
        for (int i = 0; !hold && i < o.max_pages; ++i) {
            const int n = mqt_cpu_read(c.handle, page_.data());
            if (n <= 0) {
                c.behind = false;
                break;
            }
            if (n >= 8) std::memcpy(&c.last_ts, page_.data(), 8); // the sub-buffer's time stamp
            if (o.decode)
                d.decode_page(c.cpu, page_.data(), static_cast<std::size_t>(n), out);
            else
                d.page_losses(c.cpu, page_.data(), static_cast<std::size_t>(n), out);
            if (o.raw)
                o.raw->push_back(RawPage{c.cpu, std::string(reinterpret_cast<const char*>(page_.data()),
                                                            static_cast<std::size_t>(n))});
            ++r.pages;
        }
        if (c.behind) {
            r.complete = std::min(r.complete, c.last_ts);
            r.more = true;
        }
        // After the reads: the counters include every loss the markers read so far refer to.
        read_stats(c);
        const std::uint64_t counted = mono_ns();
        const std::uint64_t total = c.now.overrun + c.now.dropped + c.now.commit_overrun;
        reconcile_losses(out, from, c.cpu, total - c.reported, ts);
        c.reported = total;
        place_losses(out, from, c.cpu, c.read_to, counted);
        // Found empty: nothing up to the round's time is left to read (records are committed
        // before they are readable), so what is lost later was made after it.
        if (!c.behind) c.read_to = std::max(c.read_to, ts);
    }
    return r;
}

Reader::Totals Reader::totals() const {
    Totals t;
    for (const auto& c : cpus_) {
        t.overrun += c.now.overrun;
        t.dropped += c.now.dropped;
        t.commit_overrun += c.now.commit_overrun;
    }
    return t;
}

std::uint64_t Reader::reported() const {
    std::uint64_t n = 0;
    for (const auto& c : cpus_)
        n += c.reported;
    return n;
}

} // namespace mqtrace
