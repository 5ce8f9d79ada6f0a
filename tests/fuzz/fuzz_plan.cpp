// The probe planner on hostile kernel texts (tracefs README, file list,
// kallsyms names, tracepoint list, a sys_enter format): every plan it makes
// must be one a tracefs file accepts, one line per probe.
#include "mqtrace/kernel.hpp"
#include "mqtrace/plan.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

using namespace mqtrace;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    KernelProfile p;
    p.release = in.ConsumeRandomLengthString(32);
    p.machine = in.PickValueInArray({"x86_64", "aarch64", "riscv64", ""});
    p.readme = in.ConsumeRandomLengthString(4096);
    p.files = in.ConsumeRandomLengthString(1024);
    p.symbols = in.ConsumeRandomLengthString(4096);
    p.events = in.ConsumeRandomLengthString(2048);
    const std::string format = in.ConsumeRemainingBytesAsString();
    const KernelFacts k = parse_facts(p);
    for (Backend b : {Backend::Kprobe, Backend::Syscalls}) {
        if (!backend_unavailable(k, b).empty()) continue;
        for (UserReads r : {UserReads::Auto, UserReads::Uprobe, UserReads::Late, UserReads::Stack}) {
            PlanOptions o;
            o.reads = r;
            Plan plan;
            try {
                plan = make_plan(k, b, o);
            } catch (const std::runtime_error&) {
                continue;
            }
            for (auto& ep : plan.events)
                for (auto& alt : ep.alts)
                    for (auto& pr : alt.probes) {
                        if (pr.kind == ProbeKind::Tracepoint && pr.role == Role::Entry)
                            adopt_string_fields(pr, format);
                        const std::string def = pr.definition();
                        if (def.find('\n') != std::string::npos) {
                            std::fprintf(stderr, "probe definition with a newline: %s\n", def.c_str());
                            std::abort();
                        }
                    }
        }
    }
    return 0;
}
