// Message flows (--flows): every successful send gets a msg_id, and every
// successful receive the msg_id of the message it took, or says why it
// cannot: a model of each queue (QueueCtx::id) fed by the calls in the order
// the kernel's discipline implies. POSIX: the oldest message of the highest
// priority; System V: the oldest of the type received. A link is made only
// when every order of the calls that the trace allows gives the same message
// (see decide() in flows.cpp): never a guess. Pure: fed each round's items
// (after the descriptor context) and the calls still in progress.
#pragma once

#include "mqtrace/context.hpp"
#include "mqtrace/correlator.hpp"

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace mqtrace {

class Flows {
public:
    // One round's items, in trace order, and the calls in progress at its end
    // (entries seen, returns not yet) with their queue (QueueContext::identify).
    struct Open {
        const Call* call;
        std::uint64_t queue;
    };
    void annotate(std::span<Item> items, std::span<const Open> open);
    // The same, with the calls in progress taken from the correlator (their
    // queues from the descriptor context): what a run does after each round.
    void annotate(std::span<Item> items, const Correlator& c, QueueContext& context);

    static constexpr std::size_t kMaxQueues = 4096;    // models kept: past it, all are forgotten
    static constexpr std::size_t kMaxMessages = 65536; // messages per model (above any mq_maxmsg)

    // A message in a model, or one being sent.
    struct Msg {
        std::uint64_t id = 0;           // msg_id (0: not given yet: a send in progress)
        std::uint64_t from = 0, to = 0; // the send's entry and return (kRunning: in progress)
        std::int64_t cls = 0;           // priority (POSIX) or type (System V)
        bool cls_known = false;
        std::uint64_t len = 0; // body length
        bool len_known = false;
        std::string body; // its first bytes, read in the caller's context (--payload)
        bool body_known = false;
        int pid = -1, tid = 0; // the sender
        std::string comm;
        std::size_t index = 0; // candidates: its place in the model
        bool running = false;  // candidates: a send in progress (not in the model)
    };
    static constexpr std::uint64_t kRunning = UINT64_MAX;

private:
    struct Model {
        bool sysv = false;
        bool complete = false;       // every message in the queue is in msgs (created, or seen empty)
        std::deque<Msg> msgs;        // in order of the sends' returns
        std::uint32_t maybe = 0;     // messages of msgs taken by receives that could not say which
        std::uint64_t since = 0;     // every send to it that returned after this was seen
        std::uint64_t last_send = 0; // when the last send to it returned
        std::uint64_t forgot = 0;    // the forgets of its family applied to it (Forgets::n)
    };
    // What forget() asked of every model of a family, applied to each when it
    // is next used (catch_up): a loss costs nothing per model followed.
    struct Forgets {
        std::uint64_t n = 0;   // forgets so far
        std::uint64_t end = 0; // the latest of their times: a queue made before it may have lost sends
        // (n, ts) of forgets whose ts no later one reached: ts decreasing, so
        // the first entry after a model's Model::forgot is the latest ts it missed.
        std::vector<std::pair<std::uint64_t, std::uint64_t>> latest;
    };
    struct Pending { // a send in progress a receive was linked to: its entry and msg_id
        std::uint64_t ts = 0, id = 0;
    };
    struct Entry { // a send or receive entered: when, and on which queue
        std::uint64_t ts;
        const Call* call;
        std::uint64_t queue;
    };
    void exit(Call& c, std::uint64_t queue);
    void send(Call& c, std::uint64_t queue);
    void receive(Call& c, std::uint64_t queue);
    void copy(Call& c, Model& m, std::uint64_t queue);
    void empty_seen(const Call& c, std::uint64_t queue);
    void unfollow(Model& m, std::uint64_t ts);
    void drop(std::uint64_t queue);
    void forget(bool sysv, std::uint64_t ts);
    void catch_up(Model& m);
    Model& model(std::uint64_t queue, bool sysv, std::uint64_t ts);
    bool running(std::uint64_t queue, bool sysv, bool sends, int except_tid) const;
    void set_depth(Call& c, const Model& m, std::uint64_t queue) const;
    void candidates(const Call& r, Model& m, std::uint64_t queue);
    void link(Call& r, const Msg& chosen, Model& m, bool content);
    std::unordered_map<std::uint64_t, Model> models_;
    std::vector<std::unordered_map<std::uint64_t, Model>::node_type> spare_; // models of queues gone
    Forgets forgets_[2];                                                     // POSIX, System V
    std::vector<Entry> running_;               // during a round's sweep: the sends and receives running
    std::unordered_map<int, Pending> pending_; // by tid
    std::uint64_t next_id_ = 0;
    // The sweep's scratch (kept for its capacity).
    std::vector<Entry> entries_;   // the entries of the round's sends and receives, in time order
    std::vector<const Msg*> cand_; // a receive's candidates
    std::vector<Msg> run_;         // the sends in progress among them
    std::size_t nrun_ = 0;
    std::vector<Open> open_;
};

// Kernel facts the model uses (include/uapi/linux/msg.h).
inline constexpr std::int64_t kMsgNoError = 010000, kMsgExcept = 020000, kMsgCopy = 040000;

} // namespace mqtrace
