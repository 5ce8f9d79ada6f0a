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
    for (const ArgValue& a : c.args)
        if (a.verify == Verify::Mismatch) {
            ++toctou_mismatches;
            break;
        }
    const bool has_ret = c.end == CallEnd::Returned || c.end == CallEnd::EntryNotSeen;
    if (has_ret && c.ret < 0) {
        ++errors;
        ++errnos[static_cast<int>(-c.ret)];
    }
    if (c.end != CallEnd::Returned) return;
    add_ns(c.ts_end >= c.ts ? c.ts_end - c.ts : 0);
}

void Summary::Stats::add_ns(std::uint64_t ns) {
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
    add_queue(it.call);
    if (per_process_) {
        auto [p, fresh] = procs_.try_emplace({it.call.pid, it.call.comm});
        if (fresh) p->second.resize(catalog().size());
        p->second[ev].add(it.call);
    }
}

// The calls that name a queue (mqdes, msqid), by the queue: a POSIX one when
// its descriptor context is known, a System V one by its identifier.
void Summary::add_queue(const Call& c) {
    const EventSpec& ev = catalog()[static_cast<std::size_t>(c.ev)];
    if (ev.queue.ref.empty()) return;
    const ArgValue& ref = c.args[static_cast<std::size_t>(arg_index(ev, ev.queue.ref))];
    QueueId id;
    id.sysv = ev.family == Family::SysV;
    if (!id.sysv) {
        if (c.queue.src == QueueSource::None) {
            ++queue_unknown_;
            return;
        }
        id.name = c.queue.name();
        if (id.name.ends_with(" (deleted)")) id.name.resize(id.name.size() - 10); // the same queue, unlinked
    } else {
        if (!ref.present || ref.raw < 0) {
            ++queue_unknown_;
            return;
        }
        id.msqid = ref.raw;
    }
    auto q = queues_.find(id);
    if (q == queues_.end()) {
        if (queues_.size() >= kMaxQueues) {
            ++queue_unknown_;
            return;
        }
        q = queues_.emplace(std::move(id), QueueStats{}).first;
    }
    QueueStats& s = q->second;
    if (!s.start_looked && start_.ns && c.queue.ns == start_.ns) { // the namespace read at start
        s.start_looked = true;
        if (!q->first.sysv) {
            if (auto d = start_.posix.find(q->first.name); d != start_.posix.end()) s.at_start = d->second;
        } else if (auto d = start_.sysv.find(q->first.msqid); d != start_.sysv.end()) {
            s.at_start = d->second;
        }
    }
    if (c.queue.src == QueueSource::Msgget || c.queue.src == QueueSource::Sysvipc) {
        s.key = c.queue.key;
        s.has_key = true;
    }
    ++s.calls;
    const bool returned = c.end == CallEnd::Returned || c.end == CallEnd::EntryNotSeen;
    if (returned && c.ret < 0) {
        ++s.errors;
        ++s.errnos[static_cast<int>(-c.ret)];
        return;
    }
    s.depth_max = std::max(s.depth_max, c.flow.depth);
    switch (c.flow.link) {
    case Link::Content:
    case Link::Order:
        ++s.linked;
        s.queued.add_ns(c.flow.queued_ns);
        break;
    case Link::Ambiguous: ++s.ambiguous; break;
    case Link::Unknown: ++s.unknown; break;
    case Link::None:
    case Link::Sent: break;
    }
    if (!returned || ev.body.ptr.empty()) return; // not a message, or not known to have moved one
    const bool rx = ev.body.received();
    std::uint64_t bytes = 0;
    if (rx)
        bytes = static_cast<std::uint64_t>(c.ret);
    else if (const ArgValue& len = c.args[static_cast<std::size_t>(arg_index(ev, ev.body.len_arg))];
             len.present)
        bytes = static_cast<std::uint64_t>(len.raw);
    (rx ? s.received : s.sent) += 1;
    (rx ? s.bytes_received : s.bytes_sent) += bytes;
    auto& peers = rx ? s.receivers : s.senders;
    const std::pair<int, std::string> who{c.pid, c.comm};
    if (auto p = peers.find(who); p != peers.end())
        ++p->second;
    else if (peers.size() < kMaxPeers)
        peers.emplace(who, 1);
    else
        ++(rx ? s.other_receivers : s.other_senders);
}

void Summary::queues_text(std::string& out) const {
    if (queues_.empty() && queue_unknown_ == 0) return;
    char line[512];
    std::snprintf(line, sizeof line, "\n%-32s %10s %10s %12s %12s %8s\n", "queue", "sent", "received",
                  "bytes_sent", "bytes_recv", "errors");
    out += line;
    auto peers = [&](const char* what, const std::map<std::pair<int, std::string>, std::uint64_t>& m,
                     std::uint64_t others) {
        if (m.empty()) return;
        out += std::string("  ") + what + ":";
        for (const auto& [who, n] : m)
            out += " " + (who.first < 0 ? std::string("?") : std::to_string(who.first)) + " (" +
                   escape(who.second, false) + ") " + std::to_string(n);
        if (others) out += " others " + std::to_string(others);
        out += "\n";
    };
    for (const auto& [id, s] : queues_) {
        std::string name =
            !id.sysv ? "posix " + escape(id.name, false) : "sysv msqid " + std::to_string(id.msqid);
        if (id.sysv && s.has_key) name += " key " + render_scalar(Decode::IpcKey, s.key);
        std::snprintf(line, sizeof line, "%-32s %10llu %10llu %12llu %12llu %8llu\n", name.c_str(),
                      static_cast<unsigned long long>(s.sent), static_cast<unsigned long long>(s.received),
                      static_cast<unsigned long long>(s.bytes_sent),
                      static_cast<unsigned long long>(s.bytes_received),
                      static_cast<unsigned long long>(s.errors));
        out += line;
        for (const auto& [err, n] : s.errnos) {
            std::snprintf(line, sizeof line, "  %-30s %58llu\n", errno_name(err).c_str(),
                          static_cast<unsigned long long>(n));
            out += line;
        }
        peers("senders", s.senders, s.other_senders);
        peers("receivers", s.receivers, s.other_receivers);
        if (s.at_start.messages >= 0 || s.at_start.bytes >= 0)
            out += "  at start: " + (s.at_start.messages >= 0 ? std::to_string(s.at_start.messages) : "?") +
                   " messages, " + (s.at_start.bytes >= 0 ? std::to_string(s.at_start.bytes) : "?") +
                   " bytes\n";
        if (s.linked + s.ambiguous + s.unknown > 0 || s.depth_max >= 0) { // --flows
            out += "  linked " + std::to_string(s.linked) + " (ambiguous " + std::to_string(s.ambiguous) +
                   ", unknown " + std::to_string(s.unknown) + ")";
            if (s.queued.timed)
                out += ", queued min/median/p99/max (us) " + us(s.queued.min_ns) + "/" +
                       us(s.queued.quantile(0.5)) + "/" + us(s.queued.quantile(0.99)) + "/" +
                       us(s.queued.max_ns);
            if (s.depth_max >= 0) out += ", depth max " + std::to_string(s.depth_max);
            out += "\n";
        }
    }
    if (queue_unknown_) out += "calls on a queue not known: " + std::to_string(queue_unknown_) + "\n";
    if (!start_.why.empty()) out += "depth at start not read: " + start_.why + "\n";
}

void Summary::queues_json(std::string& out) const {
    out += ",\"queues\":[";
    auto peers = [&](const std::map<std::pair<int, std::string>, std::uint64_t>& m) {
        out += "[";
        bool first = true;
        for (const auto& [who, n] : m) {
            out += std::string(first ? "" : ",") +
                   "{\"pid\":" + (who.first < 0 ? "null" : std::to_string(who.first)) + ",\"comm\":\"" +
                   escape(who.second, true) + "\",\"messages\":" + std::to_string(n) + "}";
            first = false;
        }
        out += "]";
    };
    bool first = true;
    for (const auto& [id, s] : queues_) {
        out += first ? "{" : ",{";
        first = false;
        if (!id.sysv)
            out += "\"kind\":\"posix\",\"name\":\"" + escape(id.name, true) + "\"";
        else
            out += "\"kind\":\"sysv\",\"msqid\":" + std::to_string(id.msqid) +
                   ",\"key\":" + (s.has_key ? std::to_string(s.key) : "null");
        out += ",\"calls\":" + std::to_string(s.calls) + ",\"errors\":" + std::to_string(s.errors) +
               ",\"errnos\":{";
        bool first_err = true;
        for (const auto& [err, n] : s.errnos) {
            out += std::string(first_err ? "" : ",") + "\"" + errno_name(err) + "\":" + std::to_string(n);
            first_err = false;
        }
        out += "},\"sent\":" + std::to_string(s.sent) + ",\"received\":" + std::to_string(s.received) +
               ",\"bytes_sent\":" + std::to_string(s.bytes_sent) +
               ",\"bytes_received\":" + std::to_string(s.bytes_received) + ",\"senders\":";
        peers(s.senders);
        out += ",\"other_senders\":" + std::to_string(s.other_senders) + ",\"receivers\":";
        peers(s.receivers);
        out += ",\"other_receivers\":" + std::to_string(s.other_receivers);
        auto known = [](std::int64_t v) { return v >= 0 ? std::to_string(v) : std::string("null"); };
        out += ",\"depth_start\":";
        if (s.at_start.messages >= 0 || s.at_start.bytes >= 0)
            out +=
                "{\"messages\":" + known(s.at_start.messages) + ",\"bytes\":" + known(s.at_start.bytes) + "}";
        else
            out += "null";
        if (s.linked + s.ambiguous + s.unknown > 0 || s.depth_max >= 0) { // --flows
            out += ",\"links\":{\"linked\":" + std::to_string(s.linked) +
                   ",\"ambiguous\":" + std::to_string(s.ambiguous) +
                   ",\"unknown\":" + std::to_string(s.unknown) + "},\"queued_ns\":";
            if (s.queued.timed)
                out += "{\"min\":" + std::to_string(s.queued.min_ns) +
                       ",\"median\":" + std::to_string(s.queued.quantile(0.5)) +
                       ",\"p99\":" + std::to_string(s.queued.quantile(0.99)) +
                       ",\"max\":" + std::to_string(s.queued.max_ns) +
                       ",\"timed\":" + std::to_string(s.queued.timed) + "}";
            else
                out += "null";
            out += ",\"depth_max\":" + (s.depth_max >= 0 ? std::to_string(s.depth_max) : "null");
        }
        out += "}";
    }
    out += "],\"queue_calls_unknown\":" + std::to_string(queue_unknown_);
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
        if (s.toctou_mismatches) {
            std::snprintf(line, sizeof line, "  %-14s %10llu\n", "TOCTOU mismatch",
                          static_cast<unsigned long long>(s.toctou_mismatches));
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
    queues_text(out);
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
        if (s.toctou_mismatches) out += ",\"toctou_mismatches\":" + std::to_string(s.toctou_mismatches);
        out += "}";
    }
    out += "}";
}

std::string Summary::json() const {
    std::string out(kSummaryStart); // {"event":"summary","schema":N,"events":
    table_json(out, total_);
    out += ",\"lost\":" + std::to_string(lost_);
    out += ",\"lost_unknown\":" + std::to_string(lost_unknown_);
    queues_json(out);
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
