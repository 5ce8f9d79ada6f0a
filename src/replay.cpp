// Recording replay. See include/mqtrace/replay.hpp.
#include "mqtrace/replay.hpp"

#include "mqtrace/context.hpp"
#include "mqtrace/flows.hpp"
#include "mqtrace/late.hpp"
#include "mqtrace/reader.hpp"
#include "mqtrace/stack.hpp"
#include "mqtrace/stages.hpp"

#include <algorithm>
#include <optional>
#include <unordered_map>

namespace mqtrace {

void replay(const Recording& r, const std::function<void(Item&&)>& sink, std::size_t payload, bool flows) {
    std::vector<EventFormat> fmts;
    for (std::size_t i = 0; i < r.probes.size(); ++i)
        fmts.push_back(
            EventFormat{static_cast<int>(i), r.probes[i].system, r.formats[i], r.probes[i].fields});
    const Decoder dec(r.header_page, fmts);
    bool syscalls = false;
    for (const auto& p : r.probes)
        syscalls = syscalls || (p.role == Role::Entry && p.kind == ProbeKind::Tracepoint);
    std::optional<LateReads> late;
    if (syscalls) late.emplace(r.probes);
    NoMemory none("not in the recording (read after the call by live runs only)");
    TaskTable tasks(false);
    for (const auto& t : r.tasks)
        tasks.seed(t.tid, t.pid, t.comm);
    Correlator c(r.probes, tasks);
    Merger m;
    // Round by round, as the recording run read them: at the end of a round,
    // every record up to its mark has been read.
    std::vector<Record*> ready;
    std::vector<Item> items;
    OutputReads outputs(payload);
    const std::unique_ptr<ProcView> proc = no_proc_view(); // the recorded machine's /proc is not here
    QueueContext context(*proc);
    Flows links;
    const CallStages stages{c, outputs, context, flows && !r.selected ? &links : nullptr};
    auto emit = [&] {
        stages.run(ready, none, items, [&](std::vector<Item>& done) {
            for (auto& it : done)
                if (!(it.is_call && it.call.tid == r.self_tid)) sink(std::move(it));
            c.recycle(done); // what the sink did not take is reused
        });
        ready.clear();
        m.done();
    };
    StackQueue stacks;
    stacks.payload = payload;
    std::size_t next = 0, next_loss = 0, next_stack = 0, next_lossy = 0;
    // A file that continues an earlier one (see carry.hpp): first the carried
    // records after its boundary, and those the calls in progress at it began with.
    if (r.continues) {
        std::unordered_map<int, std::uint64_t> open(r.open.begin(), r.open.end());
        RecordBuffer carried;
        for (const auto& p : r.carried)
            dec.decode_page(p.cpu, p.bytes.data(), p.bytes.size(), carried, false);
        for (auto& rec : carried) {
            bool keep = rec.kind == RecordKind::Event && rec.ts > r.begin;
            if (!keep && rec.kind == RecordKind::Event && rec.probe >= 0 &&
                static_cast<std::size_t>(rec.probe) < r.probes.size()) {
                const Role role = r.probes[static_cast<std::size_t>(rec.probe)].role;
                const auto o = open.find(rec.tid);
                keep = o != open.end() && rec.ts >= o->second &&
                       (role == Role::Wrapper || role == Role::Entry || role == Role::Inner);
            }
            if (keep) m.queue(rec.cpu).push_back(std::move(rec));
        }
        if (late) late->prefetch(m.fresh(), none);
        m.added();
    }
    auto decode_until = [&](std::size_t end, std::size_t round) {
        // The lost records the recording run reported in this round: before
        // the round's records of the same time, as the in-band ones were.
        for (; next_loss < r.losses.size() && r.loss_round[next_loss] <= round; ++next_loss)
            m.queue(r.losses[next_loss].cpu).push_back(r.losses[next_loss]);
        for (; next < end; ++next) {
            const PageView& p = r.pages[next];
            dec.decode_page(p.cpu, p.bytes.data(), p.bytes.size(), m.queue(p.cpu), !r.exact_losses);
        }
        if (late) late->prefetch(m.fresh(), none);
        for (; next_stack < r.stacks.size() && r.stack_round[next_stack] <= round; ++next_stack)
            stacks.push(StackCopy(r.stacks[next_stack]));
        m.added();
    };
    for (std::size_t k = 0; k < r.rounds.size(); ++k) {
        decode_until(std::min(r.rounds[k].pages, r.pages.size()), k);
        m.release(r.rounds[k].mark, ready);
        if (!r.stacks.empty()) { // as the recording run used them, round by round
            bool lossy = false;
            for (; next_lossy < r.stack_lossy.size() && r.stack_lossy[next_lossy] <= k; ++next_lossy)
                lossy = true;
            apply_stack_copies(ready, r.probes, stacks, lossy);
        }
        emit();
    }
    decode_until(r.pages.size(), SIZE_MAX);
    m.release_all(ready);
    if (r.continued) { // the records after its end, and the calls in progress, are the next file's
        std::erase_if(ready,
                      [&](const Record* rec) { return rec->kind == RecordKind::Event && rec->ts > r.end; });
        emit();
        return;
    }
    emit();
    c.finish(items);
    emit();
}

std::vector<Item> replay(const Recording& r, std::size_t payload) {
    std::vector<Item> items;
    replay(
        r, [&](Item&& it) { items.push_back(std::move(it)); }, payload);
    return items;
}

} // namespace mqtrace
