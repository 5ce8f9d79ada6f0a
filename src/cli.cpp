// Command line. See include/mqtrace/cli.hpp.
#include "mqtrace/cli.hpp"

#include "mqtrace/catalog.hpp"
#include "mqtrace_config.h"

#include <boost/program_options.hpp>

#include <cstdio>
#include <sstream>

namespace po = boost::program_options;

namespace mqtrace {
namespace {

po::options_description options() {
    po::options_description d("Options");
    d.add_options()(
        "events,e", po::value<std::string>()->value_name("LIST"),
        "trace only these events: comma-separated names, or 'posix', 'sysv', 'all' (default all)")(
        "pid,p", po::value<int>()->value_name("PID"),
        "trace only this process (its threads, and what it creates later; filtered in the kernel)")(
        "format,f", po::value<std::string>()->value_name("FMT")->default_value("text"),
        "output format: text or json (one object per line)")(
        "output,o", po::value<std::string>()->value_name("FILE"), "write events to FILE instead of stdout")(
        "duration,d", po::value<double>()->value_name("SECONDS"),
        "stop after SECONDS")("count,n", po::value<long>()->value_name("N"), "stop after N calls")(
        "backend", po::value<std::string>()->value_name("NAME")->default_value("auto"),
        "auto, kprobe or syscalls (auto: the kprobe backend if every event passes its self-test, else "
        "syscall "
        "tracepoints)")(
        "user-reads", po::value<std::string>()->value_name("HOW")->default_value("auto"),
        "syscalls backend: how names and structs behind pointers are read: uprobe (uprobes on the libc "
        "wrappers of the calls that pass one, in the caller's context), stack (perf copies of the caller's "
        "stack at syscall entry), late (after the call, shown apart: cheapest), auto (uprobes on the calls "
        "made once per queue, stack copies on those made once per message)")(
        "buffer-size", po::value<std::size_t>()->value_name("KB")->default_value(4096),
        "ring buffer size per CPU, in KiB")("utc", "print text times in UTC")(
        "write,w", po::value<std::string>()->value_name("FILE"),
        "record the raw ring buffer into FILE, decoding nothing (read it later with -r)")(
        "print", "with -w: also decode and print the events as they are recorded")(
        "read,r", po::value<std::string>()->value_name("FILE"),
        "decode a recording made with -w instead of tracing (-e, -p, -n, -f, -o apply)")(
        "record-profile", po::value<std::string>()->value_name("DIR"),
        "save this kernel's profile (tracefs README, files, symbols, events) into DIR, then exit")(
        "dry-run", "print the tracefs writes this kernel would get, then exit")(
        "list", "list the events and their arguments (with -f json: as JSON), then exit")(
        "cleanup", "remove tracefs state left by mqtrace runs that were killed, then exit")(
        "version", "print the version, then exit")("help,h", "print this help, then exit");
    return d;
}

// An option whose value is one of a few names: set out, or say which names it takes.
template <typename T>
void choose(const po::variables_map& vm, const char* option,
            std::initializer_list<std::pair<const char*, T>> names, T& out, std::string& error) {
    const std::string v = vm[option].as<std::string>();
    std::string list;
    for (const auto& [name, value] : names) {
        if (v == name) {
            out = value;
            return;
        }
        list += (list.empty() ? "" : ", ") + std::string(name);
    }
    error = std::string("--") + option + " must be one of " + list + ", not '" + v + "'";
}

std::vector<int> parse_events(const std::string& list, std::string& error) {
    std::vector<int> out;
    auto add = [&](int i) {
        for (int x : out)
            if (x == i) return;
        out.push_back(i);
    };
    std::istringstream in(list);
    for (std::string name; std::getline(in, name, ',');) {
        if (name == "all" || name == "posix" || name == "sysv") {
            for (const auto& ev : catalog())
                if (name == "all" || (name == "posix") == (ev.family == Family::Posix)) add(event_index(ev));
        } else if (const EventSpec* ev = find_event(name)) {
            add(event_index(*ev));
        } else {
            error = "unknown event '" + name + "' (see mqtrace --list)";
            return {};
        }
    }
    if (out.empty()) error = "no events selected";
    return out;
}

std::string tags_text(unsigned t) {
    std::string s;
    for (auto [bit, name] : {std::pair{kTagK, "K"}, {kTagU, "U"}, {kTagTOCTOU, "TOCTOU"}, {kTagOPT, "OPT"}})
        if (t & bit) s += (s.empty() ? "" : ",") + std::string(name);
    return s;
}

} // namespace

Cli parse_cli(const std::vector<std::string>& args) {
    Cli cli;
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(args).options(options()).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        cli.error = e.what();
        return cli;
    }
    if (vm.count("help"))
        cli.action = Action::Help;
    else if (vm.count("version"))
        cli.action = Action::Version;
    else if (vm.count("list"))
        cli.action = Action::List;
    else if (vm.count("cleanup"))
        cli.action = Action::Cleanup;
    else if (vm.count("record-profile")) {
        cli.action = Action::RecordProfile;
        cli.profile_dir = vm["record-profile"].as<std::string>();
    }
    TraceOptions& t = cli.trace;
    if (vm.count("write")) t.write_file = vm["write"].as<std::string>();
    if (vm.count("read")) t.read_file = vm["read"].as<std::string>();
    t.print = vm.count("print") != 0;
    choose(vm, "format", {{"text", OutputFormat::Text}, {"json", OutputFormat::Json}}, t.fmt.format,
           cli.error);
    choose(vm, "backend",
           {{"auto", Backend::Auto}, {"kprobe", Backend::Kprobe}, {"syscalls", Backend::Syscalls}}, t.backend,
           cli.error);
    choose(vm, "user-reads",
           {{"auto", UserReads::Auto},
            {"uprobe", UserReads::Uprobe},
            {"stack", UserReads::Stack},
            {"late", UserReads::Late}},
           t.reads, cli.error);
    t.events = parse_events(vm.count("events") ? vm["events"].as<std::string>() : "all", cli.error);
    if (vm.count("pid")) {
        t.pid = vm["pid"].as<int>();
        if (t.pid <= 0) cli.error = "--pid must be a positive process id";
    }
    if (vm.count("output")) t.output = vm["output"].as<std::string>();
    if (vm.count("duration")) {
        t.duration = vm["duration"].as<double>();
        if (!(t.duration > 0)) cli.error = "--duration must be a positive number of seconds";
    }
    if (vm.count("count")) {
        t.count = vm["count"].as<long>();
        if (t.count <= 0) cli.error = "--count must be a positive number";
    }
    t.buffer_kb = vm["buffer-size"].as<std::size_t>();
    if (t.buffer_kb < 8 || t.buffer_kb > (1u << 20)) cli.error = "--buffer-size must be 8 to 1048576 KiB";
    t.fmt.utc = vm.count("utc") != 0;
    t.dry_run = vm.count("dry-run") != 0;
    // Combinations that cannot mean anything.
    if (t.print && t.write_file.empty()) cli.error = "--print goes with -w";
    if (!t.write_file.empty() && !t.print && (t.count > 0 || vm.count("output") || !vm["format"].defaulted()))
        cli.error = "-w decodes nothing: -n, -o and -f need --print";
    if (!t.read_file.empty() && !t.write_file.empty()) cli.error = "-r and -w do not go together";
    if (!t.read_file.empty() && (t.dry_run || vm.count("duration") || !vm["backend"].defaulted() ||
                                 !vm["user-reads"].defaulted() || !vm["buffer-size"].defaulted()))
        cli.error =
            "-r reads a recording: --backend, --user-reads, --buffer-size, -d and --dry-run do not apply";
    return cli;
}

std::string help_text() {
    std::ostringstream s;
    s << "Usage: mqtrace [OPTIONS]\n"
         "Trace POSIX and System V message-queue syscalls system-wide, without eBPF.\n\n"
      << options()
      << "\nExit status: 0 ok, 1 runtime error, 2 usage error, 3 no working probe on this kernel,\n"
         "4 not permitted. See mqtrace(8).\n";
    return s.str();
}

std::string list_text(OutputFormat f) {
    std::string out;
    if (f == OutputFormat::Json) {
        for (const auto& ev : catalog()) {
            out += "{\"event\":\"" + std::string(ev.name) + "\",\"family\":\"" +
                   (ev.family == Family::Posix ? "posix" : "sysv") + "\",\"args\":[";
            for (std::size_t i = 0; i < ev.args.size(); ++i) {
                const ArgSpec& a = ev.args[i];
                out += std::string(i ? "," : "") + "{\"name\":\"" + std::string(a.name) + "\",\"type\":\"" +
                       std::string(a.ctype) + "\",\"tags\":\"" + tags_text(a.tags) + "\"}";
            }
            out += "]}\n";
        }
        return out;
    }
    for (const auto& ev : catalog()) {
        out += std::string(ev.name) + " (" + (ev.family == Family::Posix ? "POSIX" : "System V") +
               "): " + std::string(ev.doc) + "\n";
        for (const auto& a : ev.args) {
            char line[256];
            std::snprintf(line, sizeof line, "    %-12s %-26s %-16s %s\n", std::string(a.name).c_str(),
                          std::string(a.ctype).c_str(), tags_text(a.tags).c_str(),
                          std::string(a.doc).c_str());
            out += line;
        }
    }
    return out;
}

int run_cli(const std::vector<std::string>& args) {
    Cli cli = parse_cli(args);
    if (!cli.error.empty()) {
        std::fprintf(stderr, "mqtrace: %s\nTry 'mqtrace --help'.\n", cli.error.c_str());
        return kExitUsage;
    }
    switch (cli.action) {
    case Action::Help: std::fputs(help_text().c_str(), stdout); return kExitOk;
    case Action::Version: std::printf("mqtrace %s\n", MQTRACE_VERSION); return kExitOk;
    case Action::List: std::fputs(list_text(cli.trace.fmt.format).c_str(), stdout); return kExitOk;
    case Action::Cleanup: return run_cleanup();
    case Action::RecordProfile: return run_record_profile(cli.profile_dir);
    case Action::Trace: break;
    }
    if (!cli.trace.read_file.empty()) return run_replay(cli.trace);
    return run_trace(cli.trace);
}

} // namespace mqtrace
