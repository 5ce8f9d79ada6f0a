// mqtrace-plan-lines PROFILE_DIR: the kprobe lines mqtrace plans (first choice, all ten events, in
// the order --dry-run writes them, group mqtrace_N) for a recorded kernel profile (tests/profiles).
// scripts/vm/matrix compares them with what --dry-run printed in the booted kernel: when they
// agree, the plan tests of that profile (tests/unit_plan_test.cpp) give that kernel's exact lines.
#include "mqtrace/catalog.hpp"
#include "mqtrace/plan.hpp"

#include <cstdio>
#include <exception>

using namespace mqtrace;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: mqtrace-plan-lines PROFILE_DIR\n");
        return 2;
    }
    try {
        const KernelFacts k = parse_facts(load_profile_dir(argv[1]));
        PlanOptions o;
        o.group = "mqtrace_N";
        for (std::size_t i = 0; i < catalog().size(); ++i)
            o.events.push_back(static_cast<int>(i));
        for (const auto& ep : make_plan(k, Backend::Kprobe, o).events) {
            if (ep.alts.empty()) {
                std::printf("# no kprobe point for %s\n", std::string(catalog()[ep.ev].name).c_str());
                continue;
            }
            for (const auto& pr : ep.alts.front().probes)
                std::printf("%s\n", pr.definition().c_str());
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mqtrace-plan-lines: %s\n", e.what());
        return 1;
    }
    return 0;
}
