// Recording replay. See include/mqtrace/replay.hpp.
#include "mqtrace/replay.hpp"

#include "mqtrace/late.hpp"
#include "mqtrace/reader.hpp"

namespace mqtrace {
namespace {

// What a live run would have read from the process after the call.
class NotRecorded final : public MemoryReader {
public:
    void read(int, std::span<MemRead> reads) override {
        for (auto& r : reads) {
            r.into->ok = false;
            r.into->why = "not in the recording (read after the call by live runs only)";
        }
    }
};

} // namespace

std::vector<Item> replay(const Recording& r) {
    std::vector<EventFormat> fmts;
    for (std::size_t i = 0; i < r.probes.size(); ++i)
        fmts.push_back(
            EventFormat{static_cast<int>(i), r.probes[i].system, r.formats[i], r.probes[i].fields});
    const Decoder dec(r.header_page, fmts);
    std::vector<Record> recs;
    for (const auto& p : r.pages)
        dec.decode_page(p.cpu, p.bytes.data(), p.bytes.size(), recs, !r.exact_losses);
    recs.insert(recs.end(), r.losses.begin(), r.losses.end());
    bool syscalls = false;
    for (const auto& p : r.probes)
        syscalls = syscalls || (p.role == Role::Entry && p.kind == ProbeKind::Tracepoint);
    if (syscalls) {
        NotRecorded none;
        LateReads(r.probes).prefetch(recs, none);
    }
    Merger m;
    m.push(std::move(recs));
    std::vector<Record> ordered;
    m.release_all(ordered);
    TaskTable tasks(false);
    for (const auto& t : r.tasks)
        tasks.seed(t.tid, t.pid, t.comm);
    Correlator c(r.probes, tasks);
    std::vector<Item> items;
    for (const auto& rec : ordered)
        c.feed(rec, items);
    c.finish(items);
    std::erase_if(items, [&](const Item& it) { return it.is_call && it.call.tid == r.self_tid; });
    return items;
}

} // namespace mqtrace
