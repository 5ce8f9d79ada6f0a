// The per-event path without the kernel: real ring-buffer pages recorded on
// Debian's 6.1 (tests/fixtures) through decode -> merge -> correlate ->
// outputs -> descriptor context -> flows -> format, chunk by chunk, as a live
// run does it. Reports calls per second per core.
#include "mqtrace/context.hpp"
#include "mqtrace/correlator.hpp"
#include "mqtrace/flows.hpp"
#include "mqtrace/format.hpp"
#include "mqtrace/reader.hpp"
#include "mqtrace/recording.hpp"
#include "mqtrace/stages.hpp"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

using namespace mqtrace;

namespace {

void pipeline(benchmark::State& st, OutputFormat f, const char* fixture, bool with_flows) {
    const Recording r = load_recording(std::string(MQTRACE_SOURCE_ROOT) + "/tests/fixtures/" + fixture);
    std::vector<EventFormat> fmts;
    for (std::size_t i = 0; i < r.probes.size(); ++i)
        fmts.push_back(
            EventFormat{static_cast<int>(i), r.probes[i].system, r.formats[i], r.probes[i].fields});
    const Decoder dec(r.header_page, fmts);
    FormatOptions o;
    o.format = f;
    std::string out;
    std::int64_t calls = 0;
    TaskTable tasks(false);
    Correlator c(r.probes, tasks);
    std::vector<Item> items;
    // Buffers kept from iteration to iteration, as a live run keeps them from
    // round to round (Tracer::round, replay).
    std::vector<Record*> ordered;
    Merger m;
    const auto proc = no_proc_view(); // the descriptor context of the recording's calls, as -r gives it
    QueueContext context(*proc);
    Flows links; // --flows, the default
    OutputReads outputs;
    NoMemory none("not read by the benchmark");
    const CallStages stages{c, outputs, context, with_flows ? &links : nullptr};
    const std::vector<Record*> no_records;
    const std::function<void(std::vector<Item>&)> lines = [&](std::vector<Item>& done) {
        for (const auto& it : done) {
            append_item(it, o, out);
            out += '\n';
            calls += it.is_call;
        }
        c.recycle(done); // as a live run does, once the lines are written
    };
    for (auto _ : st) {
        for (const auto& p : r.pages)
            dec.decode_page(p.cpu, p.bytes.data(), p.bytes.size(), m.queue(p.cpu));
        m.added();
        ordered.clear();
        m.release_all(ordered);
        out.clear();
        stages.run(ordered, none, items, lines); // chunk by chunk, as a live run and -r do
        c.finish(items);
        stages.run(no_records, none, items, lines);
        m.done();
        benchmark::DoNotOptimize(out.data());
    }
    st.counters["calls_per_s"] = benchmark::Counter(static_cast<double>(calls), benchmark::Counter::kIsRate);
    st.counters["calls"] = benchmark::Counter(static_cast<double>(calls), benchmark::Counter::kAvgIterations);
}

} // namespace

// MQTRACE_BENCH_ITERATIONS=N fixes the iteration count, for instruction
// counts that repeat exactly (valgrind --tool=callgrind, see scripts/bench).
int main(int argc, char** argv) {
    // MQTRACE_BENCH_FIXTURE: another recording of tests/fixtures (linux-6.1-kprobe-all: every event).
    const char* fixture = std::getenv("MQTRACE_BENCH_FIXTURE") ? std::getenv("MQTRACE_BENCH_FIXTURE")
                                                               : "linux-6.1-kprobe-lossy";
    // As a live run does (--flows, the default), and without the links (--no-flows).
    benchmark::internal::Benchmark* runs[] = {
        benchmark::RegisterBenchmark("pipeline/json", pipeline, OutputFormat::Json, fixture, true),
        benchmark::RegisterBenchmark("pipeline/text", pipeline, OutputFormat::Text, fixture, true),
        benchmark::RegisterBenchmark("pipeline/json_no_flows", pipeline, OutputFormat::Json, fixture, false),
        benchmark::RegisterBenchmark("pipeline/text_no_flows", pipeline, OutputFormat::Text, fixture, false)};
    if (const char* n = std::getenv("MQTRACE_BENCH_ITERATIONS"))
        for (auto* b : runs)
            b->Iterations(std::atoll(n));
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
