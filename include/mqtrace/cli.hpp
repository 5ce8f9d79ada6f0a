// Command line: argv -> what to do. Built on Boost.ProgramOptions; the option
// table is the source of --help and is checked against mqtrace(8) by a test.
#pragma once

#include "mqtrace/tracer.hpp"

#include <string>
#include <vector>

namespace mqtrace {

enum class Action { Trace, Help, Version, List, JsonSchema, Cleanup, RecordProfile };

struct Cli {
    Action action = Action::Trace;
    TraceOptions trace;
    std::string profile_dir; // --record-profile
    std::string error;       // non-empty: usage error, exit kExitUsage
};

Cli parse_cli(const std::vector<std::string>& args);
std::string help_text();
std::string list_text(OutputFormat f); // the event catalog, for --list
int run_cli(const std::vector<std::string>& args);

} // namespace mqtrace
