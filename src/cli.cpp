// Command line. See include/mqtrace/cli.hpp.
#include "mqtrace/cli.hpp"

#include "mqtrace/catalog.hpp"
#include "mqtrace/journal.hpp"
#include "mqtrace/rotate.hpp"
#include "mqtrace/schema.hpp"
#include "mqtrace_config.h"

#include <boost/program_options.hpp>

#include <pwd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <sstream>

namespace po = boost::program_options;

namespace mqtrace {
namespace {

po::options_description options() {
    po::options_description d("Options");
    d.add_options()(
        "events,e", po::value<std::string>()->value_name("LIST"),
        "trace only these events: comma-separated names, or 'posix', 'sysv', 'all' (default all); '!name' "
        "or '-name' leaves one out")("pid,p", po::value<std::string>()->value_name("LIST"),
                                     "trace only these processes (comma-separated pids): their threads, and "
                                     "what they create later (filtered in the kernel)")(
        "tid,t", po::value<std::string>()->value_name("LIST"),
        "trace only these threads (comma-separated; filtered in the kernel)")(
        "comm", po::value<std::string>()->value_name("NAME"),
        "trace only processes with this command name (its first 15 bytes; filtered in the kernel from 4.2)")(
        "uid,u", po::value<std::string>()->value_name("USER"),
        "trace only processes of this real user (name or number; filtered in user space)")(
        "failed,x", "show only calls that failed (successful returns are filtered in the kernel)")(
        "summary,c",
        "print a summary of the calls at the end, per event and per queue, instead of the calls "
        "(like strace -c)")("summary-and-events,C", "print the calls and, at the end, the summary")(
        "per-process", "with -c or -C: also a summary per process")(
        "format,f", po::value<std::string>()->value_name("FMT")->default_value("text"),
        "output format: text, json (one object per line), journal (one systemd journal entry per call) or "
        "perfetto (a timeline for the Perfetto UI: slices, flows from send to receive, queue depths)")(
        "output,o", po::value<std::string>()->value_name("FILE"), "write events to FILE instead of stdout")(
        "time,T", po::value<std::string>()->value_name("KIND")->default_value("wall"),
        "times: wall (time of day), relative (seconds since tracing started) or iso (ISO 8601 date and time; "
        "in JSON as \"time\")")("utc", "print times in UTC")(
        "duration,d", po::value<double>()->value_name("SECONDS"),
        "stop after SECONDS")("count,n", po::value<long>()->value_name("N"),
                              "stop after N calls")("strict", "exit with status 5 if any event was lost")(
        "flows", "link each receive to the send of the message it took (the default)")(
        "no-flows", "do not link receives to sends")(
        "quiet,q",
        "no banner, column header or exit line on stderr (the exit line still appears if events were "
        "lost)")("backend", po::value<std::string>()->value_name("NAME")->default_value("auto"),
                 "auto, kprobe or syscalls (auto: the kprobe backend if every event passes its "
                 "self-test, else syscall tracepoints)")(
        "user-reads", po::value<std::string>()->value_name("HOW")->default_value("auto"),
        "syscalls backend: how names and structs behind pointers are read: uprobe (uprobes on the libc "
        "wrappers of the calls that pass one, in the caller's context), stack (perf copies of the caller's "
        "stack at syscall entry), late (after the call, shown apart: cheapest), auto (uprobes on the calls "
        "made once per queue, stack copies on those made once per message)")(
        "payload", po::value<std::size_t>()->value_name("N")->default_value(0),
        "show the first N bytes of each message body sent or received (as strace's -s; at most 65536; 0: "
        "none)")("buffer-size", po::value<std::size_t>()->value_name("KB")->default_value(4096),
                 "ring buffer size per CPU, in KiB")("write,w", po::value<std::string>()->value_name("FILE"),
                                                     "record the raw ring buffer into FILE (-: standard "
                                                     "output), decoding nothing (read it later with -r)")(
        "print", "with -w: also decode and print the events as they are recorded")(
        "rotate-size", po::value<std::string>()->value_name("SIZE"),
        "with -o or -w: go on in a new file before one would pass SIZE (as tcpdump's -C: millions of "
        "bytes; KiB, MiB or GiB with the suffix k, M or G)")(
        "rotate-count,W", po::value<long>()->value_name("N"),
        "with --rotate-size or -G: name the files FILE0 to FILE<N-1>, reusing the names in a ring (as "
        "tcpdump's -W)")("rotate-seconds,G", po::value<long>()->value_name("SECONDS"),
                         "with -o or -w: go on in a new file every SECONDS seconds, FILE's strftime(3) "
                         "conversions expanded (as tcpdump's -G)")(
        "read,r", po::value<std::string>()->value_name("FILE"),
        "decode a recording made with -w (- for standard input) instead of tracing "
        "(-e, -p, -t, --comm, -x, -n, -c, -f, -o apply)")(
        "record-profile", po::value<std::string>()->value_name("DIR"),
        "save this kernel's profile (tracefs README, files, symbols, events) into DIR, then exit")(
        "dry-run", "print the tracefs writes this kernel would get, then exit")(
        "list", "list the events and their arguments (with -f json: as JSON), then exit")(
        "json-schema", "print the JSON Schema of the -f json lines, then exit")(
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

// "mq_open,msgget", "posix,!mq_notify", "!msgctl" (everything but msgctl).
std::vector<int> parse_events(const std::string& list, std::string& error) {
    std::vector<int> out;
    auto set = [&](int i, bool on) {
        const auto at = std::find(out.begin(), out.end(), i);
        if (on && at == out.end()) out.push_back(i);
        if (!on && at != out.end()) out.erase(at);
    };
    std::istringstream in(list);
    bool first = true;
    for (std::string name; std::getline(in, name, ',');) {
        const bool exclude = !name.empty() && (name[0] == '!' || name[0] == '-');
        if (exclude) name.erase(0, 1);
        if (exclude && first) // only exclusions: from all of them
            for (const auto& ev : catalog())
                set(event_index(ev), true);
        first = false;
        if (name == "all" || name == "posix" || name == "sysv") {
            for (const auto& ev : catalog())
                if (name == "all" || (name == "posix") == (ev.family == Family::Posix))
                    set(event_index(ev), !exclude);
        } else if (const EventSpec* ev = find_event(name)) {
            set(event_index(*ev), !exclude);
        } else {
            error = "unknown event '" + name + "' (see mqtrace --list)";
            return {};
        }
    }
    if (out.empty()) error = "no events selected by '" + list + "'";
    std::sort(out.begin(), out.end()); // catalog order, whatever the order given
    return out;
}

// "123,456" or "123 456": positive ids.
std::vector<int> parse_ids(const std::string& list, const char* option, std::string& error) {
    std::vector<int> out;
    std::string item;
    std::istringstream in(list);
    while (std::getline(in, item, ',')) {
        std::istringstream words(item);
        for (std::string w; words >> w;) {
            int v = 0;
            const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
            if (ec != std::errc() || end != w.data() + w.size() || v <= 0) {
                error = std::string(option) + " takes positive numbers separated by commas, not '" + w + "'";
                return {};
            }
            out.push_back(v);
        }
    }
    if (out.empty()) error = std::string(option) + " needs at least one id";
    return out;
}

// A user name or a number.
long parse_uid(const std::string& s, std::string& error) {
    long v = -1;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (!s.empty() && ec == std::errc() && end == s.data() + s.size() && v >= 0 && v < 4294967295L) return v;
    std::vector<char> buf(16384);
    passwd pw{}, *found = nullptr;
    if (getpwnam_r(s.c_str(), &pw, buf.data(), buf.size(), &found) == 0 && found) return found->pw_uid;
    error = "--uid: no user '" + s + "'";
    return -1;
}

std::string tags_text(unsigned t) {
    std::string s;
    for (auto [bit, name] : {std::pair{kTagK, "K"}, {kTagU, "U"}, {kTagTOCTOU, "TOCTOU"}, {kTagOPT, "OPT"}})
        if (t & bit) s += (s.empty() ? "" : ",") + std::string(name);
    return s;
}

} // namespace

Cli parse_cli(const std::vector<std::string>& argv) {
    Cli cli;
    TraceOptions& t = cli.trace;
    // "-- COMMAND [ARGS]": everything after the first "--" is the command.
    std::vector<std::string> args = argv;
    if (const auto dd = std::find(args.begin(), args.end(), "--"); dd != args.end()) {
        t.command.assign(dd + 1, args.end());
        args.erase(dd, args.end());
        if (t.command.empty()) {
            cli.error = "'--' must be followed by a command to run";
            return cli;
        }
    }
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(args).options(options()).positional({}).run(), vm);
        po::notify(vm);
    } catch (const po::too_many_positional_options_error&) {
        cli.error = "a command to trace goes after '--': mqtrace [OPTIONS] -- COMMAND [ARGS]";
        return cli;
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
    else if (vm.count("json-schema"))
        cli.action = Action::JsonSchema;
    else if (vm.count("cleanup"))
        cli.action = Action::Cleanup;
    else if (vm.count("record-profile")) {
        cli.action = Action::RecordProfile;
        cli.profile_dir = vm["record-profile"].as<std::string>();
    }
    if (vm.count("write")) t.write_file = vm["write"].as<std::string>();
    if (vm.count("read")) t.read_file = vm["read"].as<std::string>();
    t.print = vm.count("print") != 0;
    // -f journal: entries whose MESSAGE= is the text line (see journal.hpp).
    choose(vm, "format",
           {{"text", OutputFormat::Text},
            {"json", OutputFormat::Json},
            {"journal", OutputFormat::Text},
            {"perfetto", OutputFormat::Perfetto}},
           t.fmt.format, cli.error);
    t.journal = vm["format"].as<std::string>() == "journal";
    if (t.journal && !journal_built())
        cli.error = "-f journal: this mqtrace was built without libsystemd (meson option journal; Debian: "
                    "libsystemd-dev)";
    if (t.fmt.format == OutputFormat::Perfetto && (vm.count("summary") || vm.count("summary-and-events") ||
                                                   vm.count("rotate-size") || vm.count("rotate-seconds")))
        cli.error = "-f perfetto writes one trace file: -c, -C, --rotate-size and -G do not go with it";
    if (t.journal && vm.count("output"))
        cli.error = "-f journal writes to the journal: -o does not go with it";
    choose(vm, "backend",
           {{"auto", Backend::Auto}, {"kprobe", Backend::Kprobe}, {"syscalls", Backend::Syscalls}}, t.backend,
           cli.error);
    choose(vm, "user-reads",
           {{"auto", UserReads::Auto},
            {"uprobe", UserReads::Uprobe},
            {"stack", UserReads::Stack},
            {"late", UserReads::Late}},
           t.reads, cli.error);
    t.payload = vm["payload"].as<std::size_t>();
    if (t.payload > 65536) cli.error = "--payload: at most 65536 bytes";
    choose(vm, "time", {{"wall", TimeMode::Wall}, {"relative", TimeMode::Relative}, {"iso", TimeMode::Iso}},
           t.fmt.time, cli.error);
    t.events = parse_events(vm.count("events") ? vm["events"].as<std::string>() : "all", cli.error);
    Selection& sel = t.sel;
    if (vm.count("pid")) sel.pids = parse_ids(vm["pid"].as<std::string>(), "--pid", cli.error);
    if (vm.count("tid")) sel.tids = parse_ids(vm["tid"].as<std::string>(), "--tid", cli.error);
    if (vm.count("comm")) {
        sel.comm = vm["comm"].as<std::string>().substr(0, kCommMax); // the kernel keeps 15 bytes
        if (sel.comm.empty()) cli.error = "--comm needs a command name";
    }
    if (vm.count("uid")) sel.uid = parse_uid(vm["uid"].as<std::string>(), cli.error);
    sel.failed = vm.count("failed") != 0;
    if (vm.count("summary") && vm.count("summary-and-events")) cli.error = "-c and -C do not go together";
    if (vm.count("summary")) t.summary = SummaryMode::Only;
    if (vm.count("summary-and-events")) t.summary = SummaryMode::WithEvents;
    t.per_process = vm.count("per-process") != 0;
    if (t.per_process && t.summary == SummaryMode::None) cli.error = "--per-process goes with -c or -C";
    t.strict = vm.count("strict") != 0;
    if (vm.count("flows") && vm.count("no-flows")) cli.error = "--flows and --no-flows exclude each other";
    t.flows = vm.count("no-flows") == 0;
    t.quiet = vm.count("quiet") != 0;
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
    // Files that rotate (mqtrace(8), ROTATING FILES).
    if (vm.count("rotate-size"))
        if (std::string e = parse_rotate_size(vm["rotate-size"].as<std::string>(), t.rotate.size); !e.empty())
            cli.error = e;
    if (vm.count("rotate-count")) {
        const long n = vm["rotate-count"].as<long>();
        if (n < 1 || n > 1000000)
            cli.error = "-W must be a number of files from 1 to 1000000";
        else
            t.rotate.count = static_cast<unsigned>(n);
    }
    if (vm.count("rotate-seconds")) {
        const long n = vm["rotate-seconds"].as<long>();
        if (n < 1 || n > 100000000)
            cli.error = "-G must be a whole number of seconds from 1 to 100000000";
        else
            t.rotate.seconds = static_cast<unsigned>(n);
    }
    t.rotate.utc = t.fmt.utc;
    if (vm.count("rotate-count") && !vm.count("rotate-size") && !vm.count("rotate-seconds"))
        cli.error = "-W goes with --rotate-size or -G: it numbers the files they start";
    if ((vm.count("rotate-size") || vm.count("rotate-seconds")) && !vm.count("output") && !vm.count("write"))
        cli.error = "--rotate-size and -G rotate the files of -o and -w: give -o FILE or -w FILE";
    if (vm.count("rotate-seconds") && vm.count("read"))
        cli.error = "-G starts new files while tracing: it does not go with -r (--rotate-size does)";
    // Combinations that cannot mean anything.
    const bool decodes = t.write_file.empty() || t.print;
    if (t.print && t.write_file.empty()) cli.error = "--print goes with -w";
    if (!decodes && (t.count > 0 || vm.count("output") || !vm["format"].defaulted() ||
                     t.summary != SummaryMode::None || !vm["time"].defaulted()))
        cli.error = "-w decodes nothing: -n, -o, -f, -T, -c and -C need --print";
    if (!t.read_file.empty() && !t.write_file.empty()) cli.error = "-r and -w do not go together";
    if (t.write_file == "-" && t.rotate.active())
        cli.error = "-w - writes standard output, which does not rotate: --rotate-size and -G need -w FILE";
    if (t.write_file == "-" && t.print && t.output.empty())
        cli.error = "-w - writes the recording to standard output: --print needs -o FILE";
    if (!t.read_file.empty() && (t.dry_run || vm.count("duration") || !vm["backend"].defaulted() ||
                                 !vm["user-reads"].defaulted() || !vm["buffer-size"].defaulted()))
        cli.error =
            "-r reads a recording: --backend, --user-reads, --buffer-size, -d and --dry-run do not apply";
    if (!t.read_file.empty() && sel.uid >= 0)
        cli.error = "-r reads a recording: it holds no user ids, so -u does not apply";
    if (!t.command.empty()) {
        if (!t.read_file.empty()) cli.error = "-r reads a recording: it runs no command";
        if (!sel.pids.empty() || !sel.tids.empty())
            cli.error = "a command is traced with what it creates: -p and -t do not go with it";
        if (t.dry_run) cli.error = "--dry-run runs nothing: it does not go with a command";
    }
    if (cli.action != Action::Trace && !t.command.empty())
        cli.error = "a command goes only with tracing, not with --help, --version, --list, --json-schema, "
                    "--cleanup or --record-profile";
    return cli;
}

std::string help_text() {
    std::ostringstream s;
    s << "Usage: mqtrace [OPTIONS] [-- COMMAND [ARGS]]\n"
         "Trace POSIX and System V message-queue syscalls system-wide, or of COMMAND and what it starts,\n"
         "without eBPF.\n\n"
      << options()
      << "\nExit status: 0 ok, 1 runtime error, 2 usage error, 3 no working probe on this kernel,\n"
         "4 not permitted, 5 events were lost (--strict); with a COMMAND, its exit status (128+N if\n"
         "signal N killed it). See mqtrace(8).\n";
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
            out += "]";
            if (!ev.outs.empty()) {
                out += ",\"outs\":[";
                for (std::size_t i = 0; i < ev.outs.size(); ++i)
                    out += std::string(i ? "," : "") + "{\"name\":\"" + std::string(ev.outs[i].name) +
                           "\",\"type\":\"" + std::string(ev.outs[i].ctype) + "\",\"at\":\"" +
                           std::string(ev.outs[i].arg) + "\"}";
                out += "]";
            }
            out += "}\n";
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
        for (const auto& o : ev.outs) {
            char line[256];
            std::snprintf(line, sizeof line, "    => %-9s %-26s %-16s %s\n", std::string(o.name).c_str(),
                          std::string(o.ctype).c_str(), ("at " + std::string(o.arg)).c_str(),
                          std::string(o.doc).c_str());
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
    case Action::JsonSchema: std::fputs(json_schema().c_str(), stdout); return kExitOk;
    case Action::Cleanup: return run_cleanup();
    case Action::RecordProfile: return run_record_profile(cli.profile_dir);
    case Action::Trace: break;
    }
    if (!cli.trace.read_file.empty()) return run_replay(cli.trace);
    return run_trace(cli.trace);
}

} // namespace mqtrace
