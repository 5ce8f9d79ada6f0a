// The summary of -c/-C. See include/mqtrace/summary.hpp.
#include "mqtrace/summary.hpp"

#include "mqtrace/catalog.hpp"
#include "mqtrace/format.hpp"
#include "mqtrace/schema.hpp"
#include "mqtrace/xlat.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>

namespace mqtrace {
namespace {

constexpr int kSubBits = 6; // 64 buckets per power of two

std::uint32_t bucket(std::uint64_t ns) {
    if (ns < (1u << kSubBits)) return static_cast<std::uint32_t>(ns);
    const int e = std::bit_width(ns) - 1; // >= kSubBits
    const auto sub = static_cast<std::uint32_t>((ns >> (e - kSubBits)) & ((1u << kSubBits) - 1));
    return (static_cast<std::uint32_t>(e - kSubBits + 1) << kSubBits) | sub;
}

// The middle of a bucket's range of values.
std::uint64_t bucket_mid(std::uint32_t b) {
    if (b < (1u << kSubBits)) return b;
    const int e = static_cast<int>(b >> kSubBits) + kSubBits - 1;
    const std::uint64_t sub = b & ((1u << kSubBits) - 1);
    const std::uint64_t lo = (std::uint64_t{1} << e) | (sub << (e - kSubBits));
    return lo + (std::uint64_t{1} << (e - kSubBits)) / 2;
}

std::string us(std::uint64_t ns) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3f", static_cast<double>(ns) / 1000.0);
    return b;
}

} // namespace

void Summary::Stats::add(const Call& c) {
    ++calls;
    const bool has_ret = c.end == CallEnd::Returned || c.end == CallEnd::EntryNotSeen;
    if (has_ret && c.ret < 0) {
        ++errors;
        ++errnos[static_cast<int>(-c.ret)];
    }
    if (c.end != CallEnd::Returned) return;
    const std::uint64_t ns = c.ts_end >= c.ts ? c.ts_end - c.ts : 0;
    min_ns = timed == 0 ? ns : std::min(min_ns, ns);
    max_ns = timed == 0 ? ns : std::max(max_ns, ns);
    ++timed;
    ++hist[bucket(ns)];
}

std::uint64_t Summary::Stats::quantile(double q) const {
    if (timed == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(timed)));
    std::uint64_t seen = 0;
    for (const auto& [b, n] : hist) {
        seen += n;
        if (seen >= rank) return std::clamp(bucket_mid(b), min_ns, max_ns);
    }
    return max_ns;
}

Summary::Summary(std::vector<int> events, bool per_process)
    : events_(std::move(events)), per_process_(per_process), total_(catalog().size()) {}

void Summary::add(const Item& it) {
    if (!it.is_call) {
        if (it.lost.count >= 0)
            lost_ += static_cast<std::uint64_t>(it.lost.count);
        else
            ++lost_unknown_;
        return;
    }
    const auto ev = static_cast<std::size_t>(it.call.ev);
    total_[ev].add(it.call);
    if (per_process_) {
        auto [p, fresh] = procs_.try_emplace({it.call.pid, it.call.comm});
        if (fresh) p->second.resize(catalog().size());
        p->second[ev].add(it.call);
    }
}

void Summary::table_text(std::string& out, const Table& t) const {
    char line[256];
    std::snprintf(line, sizeof line, "%-16s %10s %8s %11s %11s %11s %11s\n", "event", "calls", "errors",
                  "min_us", "median_us", "p99_us", "max_us");
    out += line;
    Stats all;
    for (int e : events_) {
        const Stats& s = t[static_cast<std::size_t>(e)];
        const bool timed = s.timed > 0;
        std::snprintf(line, sizeof line, "%-16s %10llu %8llu %11s %11s %11s %11s\n",
                      std::string(catalog()[static_cast<std::size_t>(e)].name).c_str(),
                      static_cast<unsigned long long>(s.calls), static_cast<unsigned long long>(s.errors),
                      timed ? us(s.min_ns).c_str() : "-", timed ? us(s.quantile(0.5)).c_str() : "-",
                      timed ? us(s.quantile(0.99)).c_str() : "-", timed ? us(s.max_ns).c_str() : "-");
        out += line;
        for (const auto& [err, n] : s.errnos) {
            std::snprintf(line, sizeof line, "  %-14s %10s %8llu\n", errno_name(err).c_str(), "",
                          static_cast<unsigned long long>(n));
            out += line;
        }
        all.calls += s.calls;
        all.errors += s.errors;
    }
    std::snprintf(line, sizeof line, "%-16s %10llu %8llu\n", "total",
                  static_cast<unsigned long long>(all.calls), static_cast<unsigned long long>(all.errors));
    out += line;
}

std::string Summary::text() const {
    std::string out = "\n";
    table_text(out, total_);
    for (const auto& [who, t] : procs_) {
        out += "\nprocess " + std::to_string(who.first) + " (" + escape(who.second, false) + ")\n";
        table_text(out, t);
    }
    out += "\nlost events: " + std::to_string(lost_) +
           (lost_unknown_ ? " and " + std::to_string(lost_unknown_) + " records of unknown count" : "") +
           "\n";
    return out;
}

void Summary::table_json(std::string& out, const Table& t) const {
    out += "{";
    bool first = true;
    for (int e : events_) {
        const Stats& s = t[static_cast<std::size_t>(e)];
        out += std::string(first ? "" : ",") + "\"" +
               std::string(catalog()[static_cast<std::size_t>(e)].name) +
               "\":{\"calls\":" + std::to_string(s.calls) + ",\"errors\":" + std::to_string(s.errors) +
               ",\"errnos\":{";
        first = false;
        bool first_err = true;
        for (const auto& [err, n] : s.errnos) {
            out += std::string(first_err ? "" : ",") + "\"" + errno_name(err) + "\":" + std::to_string(n);
            first_err = false;
        }
        out += "},\"latency_ns\":";
        if (s.timed == 0)
            out += "null";
        else
            out += "{\"min\":" + std::to_string(s.min_ns) + ",\"median\":" + std::to_string(s.quantile(0.5)) +
                   ",\"p99\":" + std::to_string(s.quantile(0.99)) + ",\"max\":" + std::to_string(s.max_ns) +
                   ",\"timed\":" + std::to_string(s.timed) + "}";
        out += "}";
    }
    out += "}";
}

std::string Summary::json() const {
    std::string out(kSummaryStart); // {"event":"summary","schema":N,"events":
    table_json(out, total_);
    out += ",\"lost\":" + std::to_string(lost_);
    out += ",\"lost_unknown\":" + std::to_string(lost_unknown_);
    if (per_process_) {
        out += ",\"processes\":[";
        bool first = true;
        for (const auto& [who, t] : procs_) {
            out += std::string(first ? "" : ",") +
                   "{\"pid\":" + (who.first < 0 ? "null" : std::to_string(who.first)) + ",\"comm\":\"" +
                   escape(who.second, true) + "\",\"events\":";
            table_json(out, t);
            out += "}";
            first = false;
        }
        out += "]";
    }
    return out + "}\n";
}

} // namespace mqtrace
