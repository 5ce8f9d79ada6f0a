// Flows: links from receives to sends, on calls made up to the nanosecond
// (the real-kernel test is Integration.FlowsLinkEachReceiveToItsSend).
#include "mqtrace/catalog.hpp"
#include "mqtrace/flows.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace mqtrace {
namespace {

constexpr std::uint64_t kQ = 7; // the queue (QueueCtx::id)

ArgValue num(std::int64_t v) {
    ArgValue a;
    a.present = true;
    a.raw = v;
    return a;
}

Call call(const char* ev, int tid, std::uint64_t ts, std::uint64_t ts_end, std::int64_t ret) {
    Call c;
    const EventSpec& e = *find_event(ev);
    c.ev = event_index(e);
    c.ts = ts;
    c.ts_end = ts_end;
    c.pid = tid;
    c.tid = tid;
    c.comm = "t" + std::to_string(tid);
    c.end = CallEnd::Returned;
    c.ret = ret;
    c.args.resize(e.args.size());
    c.outs.resize(e.outs.size());
    c.queue.id = kQ;
    return c;
}

Item created(std::uint64_t ts) {
    Item it;
    it.call = call("mq_open", 1, ts, ts + 5, 3);
    it.call.queue.created = true;
    return it;
}

// mq_timedsend(len, prio) of thread tid over [ts, ts_end].
Item send(int tid, std::uint64_t ts, std::uint64_t ts_end, std::int64_t len, std::int64_t prio) {
    Item it;
    it.call = call("mq_timedsend", tid, ts, ts_end, 0);
    it.call.args[2] = num(len);
    it.call.args[3] = num(prio);
    return it;
}

// mq_timedreceive that got len bytes of priority prio (-1: the priority not read).
Item receive(int tid, std::uint64_t ts, std::uint64_t ts_end, std::int64_t len, std::int64_t prio) {
    Item it;
    it.call = call("mq_timedreceive", tid, ts, ts_end, len);
    if (prio >= 0) {
        it.call.outs[0].content = Content::Struct;
        it.call.outs[0].src = Source::UserAtReturn;
        it.call.outs[0].members.push_back(prio);
    }
    return it;
}

// Records lost from ts on (until: the record after the gap; 0: not known).
Item lost(std::uint64_t ts, std::uint64_t until = 0) {
    Item it;
    it.is_call = false;
    it.lost = LostNotice{ts, 0, 3, "ring buffer", until};
    return it;
}

const Flow& flow(const std::vector<Item>& items, std::size_t i) { return items.at(i).call.flow; }

// Flows that followed the queue from its creation at 100 (a round of its own).
Flows following_a_new_queue() {
    Flows f;
    std::vector<Item> r{created(100)};
    f.annotate(r, {});
    return f;
}

TEST(Flows, HighestPriorityFirstFifoWithinOne) {
    Flows f;
    std::vector<Item> items{created(100),
                            send(2, 200, 210, 5, 1),
                            send(2, 300, 310, 5, 2),
                            send(2, 400, 410, 5, 1),
                            receive(3, 500, 520, 5, 2),
                            receive(3, 600, 620, 5, 1),
                            receive(3, 700, 720, 5, 1)};
    f.annotate(items, {});
    EXPECT_EQ(flow(items, 1).link, Link::Sent);
    const std::uint64_t a = flow(items, 1).msg_id, b = flow(items, 2).msg_id, c = flow(items, 3).msg_id;
    EXPECT_TRUE(a && b && c && a != b && b != c && a != c);
    EXPECT_EQ(flow(items, 4).link, Link::Order);
    EXPECT_EQ(flow(items, 4).msg_id, b); // the priority received: the only one of 2
    EXPECT_EQ(flow(items, 4).queued_ns, 520u - 310u);
    EXPECT_EQ(flow(items, 4).from_tid, 2);
    EXPECT_EQ(flow(items, 4).from_comm, "t2");
    EXPECT_EQ(flow(items, 5).msg_id, a); // two of priority 1, same length: the older one
    EXPECT_EQ(flow(items, 5).link, Link::Order);
    EXPECT_EQ(flow(items, 6).msg_id, c);
}

// Records lost on one CPU are reported with its first record after the gap,
// after what other CPUs did in the gap: a send of priority 2 lost at 250 on
// CPU 0, a receive on CPU 1 at 300 that took it, the loss reported at 400.
// Without that send the model would give the receive A: from the start of
// the round that reports a loss, nothing is known.
TEST(Flows, ALossReportedLateForgetsTheWholeRound) {
    Flows f;
    std::vector<Item> r1{created(100), send(2, 200, 210, 5, 0), send(2, 220, 230, 5, 0)};
    f.annotate(r1, {});
    std::vector<Item> r2{receive(3, 300, 310, 5, -1), lost(400)};
    f.annotate(r2, {});
    EXPECT_EQ(flow(r2, 0).link, Link::Unknown);
    EXPECT_EQ(flow(r2, 0).msg_id, 0u);
    // Without the loss, the same round links it (the oldest: A).
    Flows g;
    std::vector<Item> s1{created(100), send(2, 200, 210, 5, 0), send(2, 220, 230, 5, 0)};
    g.annotate(s1, {});
    std::vector<Item> s2{receive(3, 300, 310, 5, -1)};
    g.annotate(s2, {});
    EXPECT_EQ(flow(s2, 0).link, Link::Order);
    EXPECT_EQ(flow(s2, 0).msg_id, flow(s1, 1).msg_id);
}

// A loss reaches each model when it is next used, as if at once: the latest
// of the losses' times counts (a queue seen empty before it is not known empty).
TEST(Flows, ModelsCatchUpWithEveryLossSinceTheirLastUse) {
    auto after = [](std::vector<Item> losses) {
        Flows f = following_a_new_queue();
        f.annotate(losses, {});
        std::vector<Item> r3{receive(3, 400, 410, -EAGAIN, -1), send(2, 600, 610, 5, 0),
                             receive(3, 700, 710, 5, -1)};
        f.annotate(r3, {});
        return flow(r3, 2).link;
    };
    EXPECT_EQ(after({lost(300)}), Link::Order) << "seen empty after the loss";
    EXPECT_EQ(after({lost(500), lost(300)}), Link::Unknown) << "seen empty before the later loss";
    EXPECT_EQ(after({lost(300), lost(500)}), Link::Unknown);
}

// A lost record stands at the start of its gap, but the records lost span it
// to its end (the CPU's next record): a queue seen empty, or made, inside the
// gap may have had a send among them. The reader saw this on a busy VM: a
// receive that found a queue empty 3 ms into a 9 ms gap made the model
// complete, and the next receive was linked to a message taken long before.
TEST(Flows, NothingInsideALossGapMakesAModelComplete) {
    auto last_link = [](std::vector<Item> round) {
        Flows f = following_a_new_queue();
        f.annotate(round, {});
        return flow(round, round.size() - 1).link;
    };
    auto seen_empty_then_linked = [](Item loss, std::uint64_t at) {
        return std::vector<Item>{std::move(loss), receive(3, at, at + 10, -EAGAIN, -1),
                                 send(2, at + 100, at + 110, 5, 0), receive(3, at + 200, at + 210, 5, -1)};
    };
    EXPECT_EQ(last_link(seen_empty_then_linked(lost(300, 900), 400)), Link::Unknown)
        << "seen empty in the gap";
    EXPECT_EQ(last_link(seen_empty_then_linked(lost(300, 900), 1000)), Link::Order) << "seen empty after it";
    EXPECT_EQ(last_link(seen_empty_then_linked(lost(300), 400)), Link::Order)
        << "its end not known: as before";
    // A queue made in the gap: a send to it may have been lost.
    auto made_then_linked = [](Item loss, std::uint64_t at) {
        Flows f;
        std::vector<Item> round{std::move(loss), created(at), send(2, at + 100, at + 110, 5, 0),
                                receive(3, at + 200, at + 210, 5, -1)};
        f.annotate(round, {});
        return flow(round, 3).link;
    };
    EXPECT_EQ(made_then_linked(lost(300, 900), 400), Link::Unknown) << "made in the gap";
    EXPECT_EQ(made_then_linked(lost(300, 900), 1000), Link::Order) << "made after it";
    // A model first used in the gap (no model of the queue yet) is not complete either.
    Flows g;
    std::vector<Item> r{lost(300, 900), receive(3, 400, 410, -EAGAIN, -1), receive(3, 500, 510, -EAGAIN, -1),
                        send(2, 600, 610, 5, 0), receive(3, 700, 710, 5, -1)};
    g.annotate(r, {});
    EXPECT_EQ(flow(r, 4).link, Link::Unknown);
}

// The depth after a call: only when no other send or receive of the queue is
// running as it returns. A receive from a full queue lets the blocked sender's message in
// before it returns; the sender may return first: the order of the returns
// would count one message more than the queue can hold.
TEST(Flows, DepthOnlyWhenNothingRanBeside) {
    Flows f;
    std::vector<Item> items{created(100),
                            send(2, 200, 210, 5, 0),
                            send(2, 300, 310, 5, 0),
                            send(2, 400, 620, 5, 0),    // blocked on the full queue (it holds 2)
                            receive(3, 500, 630, 5, 0), // let it in; returned after it
                            receive(3, 700, 720, 5, 0),
                            receive(3, 800, 820, 5, 0)};
    f.annotate(items, {});
    EXPECT_EQ(flow(items, 1).depth, 1);
    EXPECT_EQ(flow(items, 2).depth, 2);
    EXPECT_EQ(flow(items, 3).depth, -1) << "the receive was running as it returned";
    EXPECT_EQ(flow(items, 4).depth, 2) << "as it returned, nothing else ran";
    EXPECT_EQ(flow(items, 4).link, Link::Order);
    EXPECT_EQ(flow(items, 5).depth, 1);
    EXPECT_EQ(flow(items, 6).depth, 0);
    EXPECT_EQ(flow(items, 6).msg_id, flow(items, 3).msg_id);
}

// A send hands its message to a receiver already waiting, which returns
// first, while the send is still running at the end of the round: the
// receive is linked to the running send, whose line (next round) has that msg_id.
TEST(Flows, ReceiverWaitingReturnsBeforeTheSend) {
    Flows f;
    std::vector<Item> r1{created(100), receive(3, 200, 520, 9, 0)};
    Call running = send(2, 500, 0, 9, 0).call;
    running.end = CallEnd::TraceEnded;
    const Flows::Open open[] = {{&running, kQ}};
    f.annotate(r1, open);
    EXPECT_EQ(flow(r1, 1).link, Link::Order);
    const std::uint64_t id = flow(r1, 1).msg_id;
    EXPECT_NE(id, 0u);
    EXPECT_EQ(flow(r1, 1).queued_ns, 0u);
    std::vector<Item> r2{send(2, 500, 530, 9, 0), receive(3, 600, 700, 9, 0)};
    f.annotate(r2, {});
    EXPECT_EQ(flow(r2, 0).msg_id, id);
    // Its message is not in the queue any more: the next receive has no send to link.
    EXPECT_EQ(flow(r2, 1).link, Link::Unknown);
    EXPECT_STREQ(flow(r2, 1).why, "no send of the message was seen");
}

// Two receivers wait, two messages of one length and priority arrive: which
// took which the trace cannot tell. The lengths tell when they differ.
TEST(Flows, TwoWaitingReceiversAreAmbiguousUnlessTheLengthsTell) {
    for (const std::int64_t second_len : {4, 6}) {
        Flows f;
        std::vector<Item> items{created(100), send(2, 300, 310, 4, 0), send(2, 320, 330, second_len, 0),
                                receive(3, 200, 340, 4, 0), receive(4, 210, 350, second_len, 0)};
        f.annotate(items, {});
        if (second_len == 4) {
            EXPECT_EQ(flow(items, 3).link, Link::Ambiguous);
            EXPECT_EQ(flow(items, 3).candidates, 2u);
            EXPECT_EQ(flow(items, 3).msg_id, 0u);
            EXPECT_EQ(flow(items, 4).link, Link::Ambiguous);
        } else {
            EXPECT_EQ(flow(items, 3).msg_id, flow(items, 1).msg_id);
            EXPECT_EQ(flow(items, 4).msg_id, flow(items, 2).msg_id);
        }
    }
}

// The order decides only when the older message was in the queue before the
// receive began: sends that overlap leave it open.
TEST(Flows, OverlappingSendsAreNotOrdered) {
    Flows f;
    std::vector<Item> items{created(100), send(2, 200, 300, 5, 0), send(5, 250, 260, 5, 0),
                            receive(3, 400, 410, 5, 0)};
    f.annotate(items, {});
    EXPECT_EQ(flow(items, 3).link, Link::Ambiguous);
    EXPECT_EQ(flow(items, 3).candidates, 2u);
}

TEST(Flows, BodiesDecideAndSayContent) {
    Flows f;
    std::vector<Item> items{created(100), send(2, 200, 300, 5, 0), send(5, 250, 260, 5, 0),
                            receive(3, 400, 410, 5, 0)};
    for (std::size_t i : {1u, 2u, 3u}) {
        items[i].call.body.content = Content::Str;
        items[i].call.body.src = i == 3 ? Source::UserAtReturn : Source::UserStack;
    }
    items[1].call.body.str = "first";
    items[2].call.body.str = "other";
    items[3].call.body.str = "other";
    f.annotate(items, {});
    EXPECT_EQ(flow(items, 3).link, Link::Content);
    EXPECT_EQ(flow(items, 3).msg_id, flow(items, 2).msg_id);
    // A body read after the call is not compared.
    Flows g;
    items[3].call.body.src = Source::UserLate;
    items[3].call.flow.reset();
    g.annotate(items, {});
    EXPECT_EQ(flow(items, 3).link, Link::Ambiguous);
}

TEST(Flows, UnknownWithoutTheQueuesHistoryOrAfterALoss) {
    Flows f;
    std::vector<Item> r1{send(2, 200, 210, 5, 0), receive(3, 300, 310, 5, 0)};
    f.annotate(r1, {});
    EXPECT_EQ(flow(r1, 0).link, Link::Sent); // a send always has its msg_id
    EXPECT_EQ(flow(r1, 1).link, Link::Unknown);
    EXPECT_NE(std::string(flow(r1, 1).why).find("not all known"), std::string::npos);
    // A receive that finds the queue empty, nothing beside it: followed from there.
    std::vector<Item> r2{receive(3, 400, 410, -EAGAIN, -1), send(2, 500, 510, 5, 0),
                         receive(3, 600, 610, 5, -1)};
    f.annotate(r2, {});
    EXPECT_EQ(flow(r2, 2).link, Link::Order);
    EXPECT_EQ(flow(r2, 2).msg_id, flow(r2, 1).msg_id);
    // A lost record: any send may be among it.
    std::vector<Item> r3{send(2, 700, 710, 5, 0), lost(720), receive(3, 800, 810, 5, 0)};
    f.annotate(r3, {});
    EXPECT_EQ(flow(r3, 2).link, Link::Unknown);
    // So a send whose queue is not known: it may have gone into this one.
    std::vector<Item> r4{receive(3, 900, 910, -EAGAIN, -1), send(2, 1000, 1010, 5, 0),
                         send(2, 1100, 1110, 5, 0), receive(3, 1200, 1210, 5, 0)};
    r4[2].call.queue.id = 0;
    f.annotate(r4, {});
    EXPECT_NE(flow(r4, 2).msg_id, 0u);
    EXPECT_EQ(flow(r4, 3).link, Link::Unknown);
    // Nor does an empty queue count while a send runs beside it.
    std::vector<Item> r5{send(2, 1290, 1305, 5, 0), receive(3, 1300, 1310, -EAGAIN, -1),
                         receive(3, 1400, 1410, 5, 0)};
    f.annotate(r5, {});
    EXPECT_EQ(flow(r5, 2).link, Link::Unknown);
}

// System V: the type received is the class; MSG_COPY copies without taking.
TEST(Flows, SystemVTypesAndCopies) {
    auto snd = [](int tid, std::uint64_t ts, std::int64_t type) {
        Item it;
        it.call = call("msgsnd", tid, ts, ts + 10, 0);
        it.call.args[1].content = Content::Struct;
        it.call.args[1].src = Source::UserStack;
        it.call.args[1].members.push_back(type);
        it.call.args[2] = num(8);
        return it;
    };
    auto rcv = [](int tid, std::uint64_t ts, std::int64_t typ, std::int64_t flags, std::int64_t got_type) {
        Item it;
        it.call = call("msgrcv", tid, ts, ts + 10, 8);
        it.call.args[2] = num(64);
        it.call.args[3] = num(typ);
        it.call.args[4] = num(flags);
        if (got_type >= 0) {
            it.call.outs[0].content = Content::Struct;
            it.call.outs[0].src = Source::UserAtReturn;
            it.call.outs[0].members.push_back(got_type);
        }
        return it;
    };
    Flows f;
    Item mk;
    mk.call = call("msgget", 1, 100, 110, 65536);
    mk.call.queue.created = true;
    std::vector<Item> items{mk,
                            snd(2, 200, 1),
                            snd(2, 300, 2),
                            snd(2, 400, 1),
                            rcv(3, 500, 1, kMsgCopy | 04000, -1), // a copy of the second
                            rcv(3, 600, -2, 0, 1),                // the lowest type up to 2: the first 1
                            rcv(3, 700, 2, 0, -1),                // type 2, asked for
                            rcv(3, 800, 0, 0, 1)};
    f.annotate(items, {});
    EXPECT_TRUE(flow(items, 4).copy);
    EXPECT_EQ(flow(items, 4).msg_id, flow(items, 2).msg_id);
    EXPECT_EQ(flow(items, 5).msg_id, flow(items, 1).msg_id);
    EXPECT_EQ(flow(items, 6).msg_id, flow(items, 2).msg_id);
    EXPECT_EQ(flow(items, 7).msg_id, flow(items, 3).msg_id);
    for (std::size_t i = 4; i < 8; ++i)
        EXPECT_EQ(flow(items, i).link, Link::Order) << i;
}

// The priority received not known (read after the call): the oldest message
// is still the one taken when it has the highest priority of all.
TEST(Flows, WithoutTheClassReceivedTheOldestOfTheHighest) {
    Flows f;
    std::vector<Item> items{created(100),
                            send(2, 200, 210, 5, 3),
                            send(2, 300, 310, 5, 1),
                            send(2, 400, 410, 5, 3),
                            receive(3, 500, 510, 5, -1),
                            receive(3, 600, 610, 5, -1)};
    f.annotate(items, {});
    EXPECT_EQ(flow(items, 4).msg_id, flow(items, 1).msg_id);
    EXPECT_EQ(flow(items, 4).link, Link::Order);
    // Then the oldest (priority 1) is not the highest (the second 3): not decided by order.
    EXPECT_EQ(flow(items, 5).link, Link::Ambiguous);
}

// A message whose type is not known (read after the call) may be of another
// type than the one received: the oldest is not taken for it.
TEST(Flows, TheOldestOfUnknownClassIsNotTakenForTheClassReceived) {
    auto snd = [](int tid, std::uint64_t ts, bool type_known) {
        Item it;
        it.call = call("msgsnd", tid, ts, ts + 10, 0);
        it.call.args[1].content = Content::Struct;
        it.call.args[1].src = type_known ? Source::UserStack : Source::UserLate;
        it.call.args[1].members.push_back(ts == 200 ? 1 : 3);
        it.call.args[2] = num(8);
        return it;
    };
    Flows f;
    Item mk;
    mk.call = call("msgget", 1, 100, 110, 65536);
    mk.call.queue.created = true;
    Item rcv;
    rcv.call = call("msgrcv", 3, 500, 510, 8);
    rcv.call.args[2] = num(64);
    rcv.call.args[3] = num(3); // type 3
    rcv.call.args[4] = num(0);
    std::vector<Item> items{mk, snd(2, 200, false), snd(2, 300, true), rcv};
    f.annotate(items, {});
    EXPECT_EQ(flow(items, 3).link, Link::Ambiguous);
    // Its type known: not type 3, so the other one.
    Flows g;
    items[1].call.args[1].src = Source::UserStack;
    items[3].call.flow.reset();
    g.annotate(items, {});
    EXPECT_EQ(flow(items, 3).msg_id, flow(items, 2).msg_id);
}

} // namespace
} // namespace mqtrace
