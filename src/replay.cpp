// Recording replay. See include/mqtrace/replay.hpp.
#include "mqtrace/replay.hpp"

#include <algorithm>
#include <unordered_map>

namespace mqtrace {
namespace {

std::vector<EventFormat> formats_of(const Recording& r) {
    std::vector<EventFormat> fmts;
    for (std::size_t i = 0; i < r.probes.size(); ++i)
        fmts.push_back(
            EventFormat{static_cast<int>(i), r.probes[i].system, r.formats[i], r.probes[i].fields});
    return fmts;
}

} // namespace

Replayer::Replayer(const Recording& head, std::function<void(Item&&)> sink, std::size_t payload, bool flows)
    : head_(head), sink_(std::move(sink)), dec_(head.header_page, formats_of(head)), c_(head.probes, tasks_),
      outputs_(payload), proc_(no_proc_view()),
      context_(*proc_), stages_{c_, outputs_, context_, flows && !head.selected ? &links_ : nullptr} {
    bool syscalls = false;
    for (const auto& p : head.probes)
        syscalls = syscalls || (p.role == Role::Entry && p.kind == ProbeKind::Tracepoint);
    if (syscalls) late_.emplace(head.probes);
    for (const auto& t : head.tasks)
        tasks_.seed(t.tid, t.pid, t.comm);
    stacks_.payload = payload;
    // A file that continues an earlier one (see carry.hpp): first the carried
    // records after its boundary, and those the calls in progress at it began with.
    if (head.continues) {
        std::unordered_map<int, std::uint64_t> open(head.open.begin(), head.open.end());
        RecordBuffer carried;
        for (const auto& p : head.carried)
            dec_.decode_page(p.cpu, p.bytes.data(), p.bytes.size(), carried, false);
        for (auto& rec : carried) {
            bool keep = rec.kind == RecordKind::Event && rec.ts > head.begin;
            if (!keep && rec.kind == RecordKind::Event && rec.probe >= 0 &&
                static_cast<std::size_t>(rec.probe) < head.probes.size()) {
                const Role role = head.probes[static_cast<std::size_t>(rec.probe)].role;
                const auto o = open.find(rec.tid);
                keep = o != open.end() && rec.ts >= o->second &&
                       (role == Role::Wrapper || role == Role::Entry || role == Role::Inner);
            }
            if (keep) m_.queue(rec.cpu).push_back(std::move(rec));
        }
        if (late_) late_->prefetch(m_.fresh(), none_);
        m_.added();
    }
}

Replayer::~Replayer() = default;

void Replayer::emit() {
    stages_.run(ready_, none_, items_, [&](std::vector<Item>& done) {
        for (auto& it : done)
            if (!(it.is_call && it.call.tid == head_.self_tid)) sink_(std::move(it));
        c_.recycle(done); // what the sink did not take is reused
    });
    ready_.clear();
    m_.done();
}

// The part's pages up to end, and its lost records and stack copies of
// rounds up to round. The lost records the recording run reported in a
// round go before the round's records of the same time, as the in-band ones did.
void Replayer::decode_until(const Recording& part, std::size_t end, std::size_t round) {
    for (; next_loss_ < part.losses.size() && part.loss_round[next_loss_] <= round; ++next_loss_)
        m_.queue(part.losses[next_loss_].cpu).push_back(part.losses[next_loss_]);
    for (; next_ < end; ++next_) {
        const PageView& p = part.pages[next_];
        dec_.decode_page(p.cpu, p.bytes.data(), p.bytes.size(), m_.queue(p.cpu), !head_.exact_losses);
    }
    if (late_) late_->prefetch(m_.fresh(), none_);
    for (; next_stack_ < part.stacks.size() && part.stack_round[next_stack_] <= round; ++next_stack_)
        stacks_.push(StackCopy(part.stacks[next_stack_]));
    m_.added();
}

void Replayer::feed(const Recording& part) {
    next_ = next_loss_ = next_stack_ = next_lossy_ = 0;
    // Round by round, as the recording run read them: at the end of a round,
    // every record up to its mark has been read.
    for (std::size_t k = 0; k < part.rounds.size(); ++k) {
        decode_until(part, std::min(part.rounds[k].pages, part.pages.size()), k);
        m_.release(part.rounds[k].mark, ready_);
        // Stack copies are used from the first round that holds any (or
        // their loss) on, fed whole or in parts: the rounds of a recording
        // without copies pay nothing.
        stacks_seen_ = stacks_seen_ || next_stack_ > 0 ||
                       (next_lossy_ < part.stack_lossy.size() && part.stack_lossy[next_lossy_] <= k);
        if (stacks_seen_) {
            bool lossy = false;
            for (; next_lossy_ < part.stack_lossy.size() && part.stack_lossy[next_lossy_] <= k; ++next_lossy_)
                lossy = true;
            apply_stack_copies(ready_, head_.probes, stacks_, lossy);
        }
        emit();
    }
    decode_until(part, part.pages.size(), part.rounds.size()); // what came after the last round
    if (part.continued) {
        continued_ = true;
        end_ = part.end;
    }
}

void Replayer::finish() {
    m_.release_all(ready_);
    if (continued_) { // the records after its end, and the calls in progress, are the next file's
        std::erase_if(ready_,
                      [&](const Record* rec) { return rec->kind == RecordKind::Event && rec->ts > end_; });
        emit();
        return;
    }
    emit();
    c_.finish(items_);
    emit();
}

void replay(const Recording& r, const std::function<void(Item&&)>& sink, std::size_t payload, bool flows) {
    Replayer rp(r, sink, payload, flows);
    rp.feed(r);
    rp.finish();
}

std::vector<Item> replay(const Recording& r, std::size_t payload) {
    std::vector<Item> items;
    replay(
        r, [&](Item&& it) { items.push_back(std::move(it)); }, payload);
    return items;
}

} // namespace mqtrace
