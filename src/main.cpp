// mqtrace: trace message-queue syscalls without eBPF. See mqtrace(8).
#include "mqtrace/cli.hpp"

#include <string>
#include <vector>

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    return mqtrace::run_cli(args);
}
