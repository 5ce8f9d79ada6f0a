// Cost of message-queue calls as seen by the traced program. scripts/bench runs
// this with no tracer (the baseline), then under mqtrace in each mode, and
// reports each as a ratio to the baseline measured in the same run.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <mqueue.h>
#include <sys/msg.h>
#include <unistd.h>

#include <string>

namespace {

// mq_open of a name that does not exist: the libc wrapper, the syscall, the
// name lookup. A uprobe on libc's mq_open fires on every iteration.
void BM_MqOpenMissing(benchmark::State& state) {
    const std::string name = "/mqtrace-bench-missing-" + std::to_string(getpid());
    for (auto _ : state)
        benchmark::DoNotOptimize(mq_open(name.c_str(), O_RDONLY));
}
BENCHMARK(BM_MqOpenMissing);

// Send and receive on one queue: two calls per iteration, no uprobe involved.
void BM_MqSendReceive(benchmark::State& state) {
    const std::string name = "/mqtrace-bench-" + std::to_string(getpid());
    mq_attr attr{0, 8, 64, 0, {}};
    mqd_t q = mq_open(name.c_str(), O_CREAT | O_RDWR, 0600, &attr);
    if (q < 0) {
        state.SkipWithError("mq_open failed");
        return;
    }
    char buf[64] = "bench";
    unsigned prio;
    for (auto _ : state) {
        mq_send(q, buf, 8, 1);
        benchmark::DoNotOptimize(mq_receive(q, buf, sizeof buf, &prio));
    }
    mq_close(q);
    mq_unlink(name.c_str());
}
BENCHMARK(BM_MqSendReceive);

// System V send and receive.
void BM_MsgSendReceive(benchmark::State& state) {
    const int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    struct {
        long mtype;
        char mtext[16];
    } m{1, "bench"};
    for (auto _ : state) {
        msgsnd(id, &m, 8, 0);
        benchmark::DoNotOptimize(msgrcv(id, &m, sizeof m.mtext, 0, 0));
    }
    msgctl(id, IPC_RMID, nullptr);
}
BENCHMARK(BM_MsgSendReceive);

} // namespace

BENCHMARK_MAIN();
