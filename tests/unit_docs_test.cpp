// The man page, --help, --list and the event catalog agree: every option,
// event, argument, output field, value source and exit status is documented.
#include "json.hpp"
#include "mqtrace/catalog.hpp"
#include "mqtrace/cli.hpp"
#include "mqtrace/schema.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace mqtrace;

namespace {

// The man page source with roff's "\-" turned into "-".
std::string man() {
    std::ifstream in(std::string(MQTRACE_SOURCE_ROOT) + "/man/mqtrace.8");
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    for (std::size_t p; (p = s.find("\\-")) != std::string::npos;)
        s.replace(p, 2, "-");
    return s;
}

std::string section(const std::string& text, const std::string& start, const std::string& next_prefix) {
    const auto a = text.find(start);
    if (a == std::string::npos) return "";
    const auto b = text.find(next_prefix, a + start.size());
    return text.substr(a, b == std::string::npos ? std::string::npos : b - a);
}

std::set<std::string> long_options(const std::string& text) {
    std::set<std::string> out;
    const std::regex re("--([a-z][a-z-]*)");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it)
        out.insert((*it)[1]);
    return out;
}

} // namespace

TEST(Docs, ManPageAndHelpListTheSameOptions) {
    const std::string page = man();
    ASSERT_FALSE(page.empty());
    const std::string help = help_text();
    const std::set<std::string> in_help = long_options(help);
    EXPECT_GE(in_help.size(), 15u);
    const std::string opts = section(page, ".SH OPTIONS", ".SH ");
    std::set<std::string> in_man;
    std::istringstream lines(opts);
    for (std::string l, prev; std::getline(lines, l); prev = l)
        if (prev == ".TP")
            for (const auto& o : long_options(l))
                in_man.insert(o);
    EXPECT_EQ(in_man, in_help) << "OPTIONS in mqtrace(8) vs --help";
    // Short options: "-e [ --events ]" in --help, '.BR \-e ", " \-\-events' in the page.
    const std::regex short_re("-([a-zA-Z]) \\[ --([a-z-]+) \\]");
    int shorts = 0;
    for (auto it = std::sregex_iterator(help.begin(), help.end(), short_re); it != std::sregex_iterator();
         ++it, ++shorts)
        EXPECT_NE(opts.find(".BR -" + (*it)[1].str() + " \", \" --" + (*it)[2].str()), std::string::npos)
            << "-" << (*it)[1] << " / --" << (*it)[2];
    EXPECT_EQ(shorts, 18); // -W and -G as tcpdump has them (its -C is --rotate-size here)
}

TEST(Docs, EveryEventAndArgumentIsDocumented) {
    const std::string page = man();
    const std::string events = section(page, ".SH EVENTS", ".SH ");
    for (const auto& ev : catalog()) {
        const std::string sec = section(events, ".SS " + std::string(ev.name) + "\n", ".SS ");
        ASSERT_FALSE(sec.empty()) << ".SS " << ev.name;
        for (const auto& a : ev.args) {
            EXPECT_NE(sec.find(std::string(a.name)), std::string::npos) << ev.name << "." << a.name;
            EXPECT_NE(sec.find(std::string(a.ctype).substr(0, a.ctype.find(' '))), std::string::npos)
                << ev.name << "." << a.name << " type";
            if (a.layout) {
                for (const auto& m : a.layout->members)
                    EXPECT_NE(sec.find(std::string(m.name)), std::string::npos)
                        << ev.name << "." << a.name << "." << m.name;
            }
        }
        // Every output parameter, with its type and members.
        for (const auto& o : ev.outs) {
            const std::string head = ".BR " + std::string(o.name) + " \" \\(em \" \"\\fI" +
                                     std::string(o.ctype) + "\\fR at \\fI" + std::string(o.arg) + "\\fR\"";
            EXPECT_NE(sec.find(head), std::string::npos) << ev.name << " output " << head;
            if (o.layout) {
                for (const auto& m : o.layout->members)
                    EXPECT_NE(sec.find(std::string(m.name)), std::string::npos)
                        << ev.name << " output " << o.name << "." << m.name;
            }
        }
        // Every probe point, boundary and inner, in the event's section.
        const std::string points = section(sec, "Probe points:", ".SS ");
        for (const auto& pt : ev.kprobe_points) {
            const std::string sym =
                pt.conv == Conv::PtRegs ? "__x64_sys_" + std::string(pt.symbol) : std::string(pt.symbol);
            EXPECT_NE(points.find(sym), std::string::npos) << ev.name << " probe point " << sym;
        }
        if (ev.kprobe_points.back().reach == Reach::Inner) {
            EXPECT_NE(points.find("inner:"), std::string::npos) << ev.name;
        }
    }
    // --list is generated from the catalog: every event and argument is in it.
    const std::string list = list_text(OutputFormat::Text);
    for (const auto& ev : catalog()) {
        EXPECT_NE(list.find(std::string(ev.name) + " ("), std::string::npos);
        for (const auto& a : ev.args)
            EXPECT_NE(list.find("    " + std::string(a.name) + " "), std::string::npos);
        for (const auto& o : ev.outs)
            EXPECT_NE(list.find("    => " + std::string(o.name) + " "), std::string::npos);
    }
}

TEST(Docs, OutputFieldsSourcesTagsAndExitStatuses) {
    const std::string page = man();
    const std::string json = section(page, ".SS JSON", ".SH ");
    for (const char* f :
         {"event",  "schema",     "time_ns",    "cpu",           "pid",       "tid",       "comm",
          "ret",    "errno",      "latency_ns", "end",           "args",      "arg_info",  "tags",
          "source", "unreadable", "hex",        "suspect_fault", "count",     "where",     "lost",
          "late",   "out",        "out_late",   "out_info",      "body",      "body_late", "body_info",
          "msg_id", "link",       "candidates", "link_why",      "queued_ns", "from",      "copy"})
        EXPECT_NE(json.find(f), std::string::npos) << "JSON field " << f;
    for (const char* e : {"returned", "thread-exited", "no-return-seen", "trace-ended"})
        EXPECT_NE(json.find(e), std::string::npos) << e;
    const std::string sources = section(page, ".SH VALUE SOURCES", ".SH ");
    for (Source s : {Source::Register, Source::KernelCopy, Source::UserAtEntry, Source::UserLate,
                     Source::UserStack, Source::UserAtReturn})
        EXPECT_NE(sources.find(source_name(s)), std::string::npos) << source_name(s);
    const std::string tags = section(page, ".SH TAGS", ".SH ");
    for (const char* t : {"K", "U", "TOCTOU", "OPT"})
        EXPECT_NE(tags.find(std::string(".B ") + t), std::string::npos) << t;
    const std::string exits = section(page, ".SH EXIT STATUS", ".SH ");
    for (int code : {kExitOk, kExitError, kExitUsage, kExitUnsupported, kExitPermission})
        EXPECT_NE(exits.find(".B " + std::to_string(code)), std::string::npos) << "exit " << code;
    const std::string text = section(page, ".SS Text", ".SS ");
    for (const char* col : {"TIME", "PID", "TID", "COMM", "EVENT", "RET", "LAT(us)", "ARGS", "msg#17"})
        EXPECT_NE(text.find(col), std::string::npos) << col;
    const std::string timeline = section(page, ".SH TIMELINE", ".SH ");
    for (const char* l : {"perfetto", "thread_name", "msg_id", "depth", "lost"})
        EXPECT_NE(timeline.find(l), std::string::npos) << "TIMELINE: " << l;
    const std::string flows = section(page, ".SH MESSAGE FLOWS", ".SH ");
    for (const char* l : {".B content", ".B order", ".B ambiguous", ".B unknown", "queued_ns", "MSG_COPY"})
        EXPECT_NE(flows.find(l), std::string::npos) << "MESSAGE FLOWS: " << l;
}

// The JSON SCHEMA section: the version, where the schema is, what may change.
TEST(Docs, JsonSchemaSection) {
    const std::string page = man();
    const std::string sec = section(page, ".SH JSON SCHEMA", ".SH ");
    ASSERT_FALSE(sec.empty()) << ".SH JSON SCHEMA";
    EXPECT_NE(sec.find("it is " + std::to_string(kSchemaVersion) + " in this version"), std::string::npos)
        << "the schema version the page states is not kSchemaVersion (" << kSchemaVersion << ")";
    for (const char* s : {"--json-schema", "mqtrace.schema.json", "DATADIR", "draft 2020-12",
                          "additionalProperties", "Within one schema version", "raises the version"})
        EXPECT_NE(sec.find(s), std::string::npos) << s;
    const std::string files = section(page, ".SH FILES", ".SH ");
    EXPECT_NE(files.find("mqtrace.schema.json"), std::string::npos) << "FILES";
}

// ---- mqtrace-events(7): the event reference, checked against the catalog ------------------

namespace {

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string events_page_path() { return std::string(MQTRACE_SOURCE_ROOT) + "/man/mqtrace-events.7"; }

std::vector<std::string> split_lines(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);)
        out.push_back(l);
    return out;
}

// roff escapes as a reader sees them: fonts dropped, the few special
// characters the pages use decoded (one pass, so "\e-" stays "\-").
std::string unescape(const std::string& s) {
    static const std::vector<std::pair<std::string, std::string>> kEscapes{
        {"\\fB", ""},        {"\\fI", ""},    {"\\fR", ""},   {"\\fP", ""},
        {"\\(em", "\u2014"}, {"\\(en", "-"},  {"\\(aq", "'"}, {"\\(dq", "\""},
        {"\\(lq", "\""},     {"\\(rq", "\""}, {"\\(bu", "*"}, {"\\(mc", "u"},
        {"\\-", "-"},        {"\\&", ""},     {"\\e", "\\"},  {"\\ ", " "}};
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        bool done = false;
        if (s[i] == '\\')
            for (const auto& [from, to] : kEscapes)
                if (s.compare(i, from.size(), from) == 0) {
                    out += to;
                    i += from.size();
                    done = true;
                    break;
                }
        if (!done) out += s[i++];
    }
    return out;
}

// The arguments of a macro line, split as roff splits them ("..." quotes).
std::vector<std::string> macro_args(const std::string& s) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < s.size();) {
        if (s[i] == ' ') {
            ++i;
            continue;
        }
        std::string a;
        if (s[i] == '"') {
            for (++i; i < s.size(); ++i) {
                if (s[i] != '"') {
                    a += s[i];
                } else if (i + 1 < s.size() && s[i + 1] == '"') {
                    a += '"';
                    ++i;
                } else {
                    ++i;
                    break;
                }
            }
        } else {
            while (i < s.size() && s[i] != ' ')
                a += s[i++];
        }
        out.push_back(a);
    }
    return out;
}

std::string collapse(const std::string& s) {
    std::string out;
    for (char c : s) {
        const bool space = c == ' ' || c == '\n' || c == '\t';
        if (space && (out.empty() || out.back() == ' ')) continue;
        out += space ? ' ' : c;
    }
    if (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

// roff source to roughly the text a reader sees, whitespace collapsed: font
// macros joined as they join their arguments, other requests dropped.
std::string plain(const std::string& roff) {
    static const std::set<std::string> kSpaced{"B", "I", "SM", "SB", "SH", "SS"};
    static const std::set<std::string> kJoined{"BR", "RB", "IR", "RI", "BI", "IB"};
    std::string out;
    for (const std::string& l : split_lines(roff)) {
        if (l.rfind(".\\\"", 0) == 0) continue;
        if (l.empty() || l[0] != '.') {
            out += unescape(l) + "\n";
            continue;
        }
        const std::size_t sp = l.find(' ');
        const std::string name = l.substr(1, sp == std::string::npos ? std::string::npos : sp - 1);
        const std::vector<std::string> args = macro_args(sp == std::string::npos ? "" : l.substr(sp + 1));
        std::string text;
        for (std::size_t i = 0; i < args.size(); ++i)
            text += (i && kSpaced.count(name) ? " " : "") + args[i];
        if (kSpaced.count(name) || kJoined.count(name)) out += unescape(text) + "\n";
        out += "\n";
    }
    return collapse(out);
}

// The text between the first `start` after `from` and the next `end` (or the end).
std::string between(const std::string& s, const std::string& start, const std::string& end) {
    const auto a = s.find(start);
    if (a == std::string::npos) return "";
    const auto b = s.find(end, a + start.size());
    return s.substr(a, b == std::string::npos ? std::string::npos : b - a);
}

// The EVENTS section's subsections, by the name in their .SS line, in page order.
std::vector<std::pair<std::string, std::string>> event_sections(const std::string& page) {
    std::vector<std::pair<std::string, std::string>> out;
    bool in_events = false;
    for (const std::string& l : split_lines(page)) {
        if (l.rfind(".SH ", 0) == 0) in_events = l == ".SH EVENTS";
        if (!in_events) continue;
        if (l.rfind(".SS ", 0) == 0)
            out.emplace_back(l.substr(4), "");
        else if (!out.empty())
            out.back().second += l + "\n";
    }
    return out;
}

const std::string* find_section(const std::vector<std::pair<std::string, std::string>>& secs,
                                std::string_view name) {
    for (const auto& [n, body] : secs)
        if (n == name) return &body;
    return nullptr;
}

// The lines of every .EX/.EE block, unescaped.
std::vector<std::string> example_lines(const std::string& roff) {
    std::vector<std::string> out;
    bool in = false;
    for (const std::string& l : split_lines(roff)) {
        if (l == ".EX")
            in = true;
        else if (l == ".EE")
            in = false;
        else if (in)
            out.push_back(unescape(l));
    }
    return out;
}

// Tags as --list writes them: "U,TOCTOU,OPT".
std::string tags_text(unsigned tags) {
    std::string out;
    for (auto [bit, name] : {std::pair{kTagK, "K"}, {kTagU, "U"}, {kTagTOCTOU, "TOCTOU"}, {kTagOPT, "OPT"}})
        if (tags & bit) out += (out.empty() ? "" : ",") + std::string(name);
    return out;
}

// The heading line of an argument's entry: .BR name " \(em " "\fItype\fR \(em TAGS"
std::string arg_heading(const ArgSpec& a) {
    const std::string tags = tags_text(a.tags);
    return ".BR " + std::string(a.name) + " \" \\(em \" \"\\fI" + std::string(a.ctype) + "\\fR" +
           (tags.empty() ? "" : " \\(em " + tags) + "\"";
}

const char* ret_kind_word(RetKind k) {
    switch (k) {
    case RetKind::Fd: return "descriptor";
    case RetKind::Int: return "int";
    case RetKind::Size: return "size";
    }
    return "?";
}

std::set<std::string> errno_names() {
    std::set<std::string> out;
    for (int e = 1; e < 4096; ++e)
        if (const char* n = strerrorname_np(e)) out.insert(n);
    return out;
}

const std::regex& text_line_re() {
    // TIME PID TID COMM EVENT ...: the EVENT column is the fifth.
    static const std::regex re(R"(^\d\d:\d\d:\d\d\.\d{6} +(\d+|\?) +\d+ +\S+ +(\S+) )");
    return re;
}

// Runs a shell command; its standard output and error together.
std::string run_command(const std::string& cmd) {
    std::string out;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return "popen failed for: " + cmd;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;)
        out.append(buf, n);
    pclose(p);
    return out;
}

bool have_tool(const std::string& tool) {
    return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0;
}

} // namespace

// Each event has its subsection with everything the catalog says of it.
TEST(DocsEvents, EveryEventMatchesTheCatalog) {
    const std::string page = read_text(events_page_path());
    ASSERT_FALSE(page.empty()) << events_page_path();
    const auto secs = event_sections(page);
    const std::set<std::string> errnos = errno_names();
    ASSERT_GT(errnos.count("ENOENT"), 0u);
    for (const auto& ev : catalog()) {
        const std::string* raw = find_section(secs, ev.name);
        ASSERT_NE(raw, nullptr) << ".SS " << ev.name << " missing in .SH EVENTS";
        const std::string text = plain(*raw);
        const std::string name(ev.name);
        // Synopsis: the catalog's prototype (line breaks in the page are free).
        EXPECT_NE(text.find(collapse(std::string(ev.prototype)) + ";"), std::string::npos)
            << name << ": prototype " << ev.prototype;
        // Every argument: heading with its C type and tags, then both backends' sources.
        for (const auto& a : ev.args) {
            const auto at = raw->find("\n" + arg_heading(a) + "\n");
            EXPECT_NE(at, std::string::npos) << name << ": argument heading " << arg_heading(a);
            if (at != std::string::npos) {
                const auto end = std::min(raw->find("\n.TP\n", at + 1), raw->find("\n.PP\n", at + 1));
                const std::string entry = plain(raw->substr(at, end == std::string::npos ? end : end - at));
                EXPECT_TRUE(entry.find("Both backends:") != std::string::npos ||
                            (entry.find("kprobe backend:") != std::string::npos &&
                             entry.find("syscalls backend:") != std::string::npos))
                    << name << "." << a.name << ": where the value comes from, with each backend: " << entry;
            }
            if (a.layout) {
                for (const auto& m : a.layout->members)
                    EXPECT_NE(text.find(std::string(a.name) + "." + std::string(m.name) + " \u2014 offset " +
                                        std::to_string(m.offset) + ", " + std::to_string(m.size) + " bytes"),
                              std::string::npos)
                        << name << ": member " << a.name << "." << m.name << " (offset " << m.offset << ", "
                        << int(m.size) << " bytes)";
            }
        }
        // Outputs: heading with type, where and size; members with offsets; each backend's source.
        for (const auto& o : ev.outs) {
            const std::string head = ".BR " + std::string(o.name) + " \" \\(em \" \"\\fI" +
                                     std::string(o.ctype) + "\\fR at \\fI" + std::string(o.arg) + "\\fR, " +
                                     std::to_string(o.size()) + " bytes\"";
            const auto at = raw->find("\n" + head + "\n");
            EXPECT_NE(at, std::string::npos) << name << ": output heading " << head;
            if (at != std::string::npos) {
                const auto end = std::min(raw->find("\n.TP\n", at + 1), raw->find("\n.PP\n", at + 1));
                const std::string entry = plain(raw->substr(at, end == std::string::npos ? end : end - at));
                EXPECT_TRUE(entry.find("kprobe backend:") != std::string::npos &&
                            entry.find("syscalls backend:") != std::string::npos &&
                            entry.find("user-at-return") != std::string::npos)
                    << name << "." << o.name << ": where the output comes from, with each backend: " << entry;
            }
            if (o.layout) {
                for (const auto& m : o.layout->members)
                    EXPECT_NE(text.find(std::string(o.name) + "." + std::string(m.name) + " \u2014 offset " +
                                        std::to_string(m.offset) + ", " + std::to_string(m.size) + " bytes"),
                              std::string::npos)
                        << name << ": output member " << o.name << "." << m.name;
            }
        }
        // Probe points: every symbol, its reach and the catalog's note on why.
        for (const auto& pt : ev.kprobe_points) {
            const std::string sym(pt.symbol);
            if (pt.conv == Conv::PtRegs) {
                EXPECT_NE(text.find("__x64_sys_" + sym), std::string::npos) << name << ": __x64_sys_" << sym;
                EXPECT_NE(text.find("__arm64_sys_" + sym), std::string::npos)
                    << name << ": __arm64_sys_" << sym;
            } else {
                EXPECT_NE(text.find(sym), std::string::npos) << name << ": probe point " << sym;
            }
            const std::string why = std::string(pt.reach == Reach::Inner ? "Inner" : "Boundary") +
                                    ", catalog note \"" + std::string(pt.note) + "\"";
            EXPECT_NE(text.find(why), std::string::npos) << name << ": " << sym << ": " << why;
        }
        // Syscalls backend: its tracepoints and the libc wrapper the uprobe goes on, if any.
        const std::string sys = between(text, "Syscalls backend: tracepoints", "Return value");
        EXPECT_NE(sys.find("syscalls:sys_enter_" + name), std::string::npos) << name << ": " << sys;
        EXPECT_NE(sys.find("syscalls:sys_exit_" + name), std::string::npos) << name << ": " << sys;
        if (!ev.libc_symbol.empty()) {
            EXPECT_NE(sys.find("uprobe on the libc wrapper " + std::string(ev.libc_symbol) + "()"),
                      std::string::npos)
                << name << ": libc wrapper " << ev.libc_symbol << ": " << sys;
        } else {
            EXPECT_NE(sys.find("No libc uprobe"), std::string::npos) << name << ": no libc uprobe: " << sys;
        }
        // Return value and errors.
        EXPECT_NE(text.find("Return value (kind: " + std::string(ret_kind_word(ev.ret)) + ")"),
                  std::string::npos)
            << name << ": return kind " << ret_kind_word(ev.ret);
        const std::string errors = between(text, "Errors (from", "Known issues");
        ASSERT_FALSE(errors.empty()) << name << ": Errors ... Known issues";
        const std::regex err_re(R"(\bE[A-Z0-9]{2,}\b)");
        int named = 0;
        for (auto it = std::sregex_iterator(errors.begin(), errors.end(), err_re);
             it != std::sregex_iterator(); ++it, ++named)
            EXPECT_GT(errnos.count(it->str()), 0u) << name << ": not an errno name: " << it->str();
        EXPECT_GT(named, 0) << name << ": no errno named";
        for (const char* part : {"Arguments", "Probe points", "Known issues", "Related events", "Examples"})
            EXPECT_NE(text.find(part), std::string::npos) << name << ": " << part;
    }
}

// The examples are mqtrace's lines: JSON objects of the event with exactly
// the catalog's arguments, text lines of the event with every argument.
TEST(DocsEvents, ExampleLinesAreTheEventsOwn) {
    const auto secs = event_sections(read_text(events_page_path()));
    for (const auto& ev : catalog()) {
        const std::string* raw = find_section(secs, ev.name);
        ASSERT_NE(raw, nullptr) << ev.name;
        std::set<std::string> want;
        for (const auto& a : ev.args)
            want.insert(std::string(a.name));
        int json = 0, text = 0, complete_text = 0;
        for (const std::string& l : example_lines(*raw)) {
            std::smatch m;
            if (!l.empty() && l[0] == '{') {
                ++json;
                testjson::Value v;
                try {
                    v = testjson::parse(l);
                } catch (const std::exception& e) {
                    ADD_FAILURE() << ev.name << ": example is not JSON: " << e.what();
                    continue;
                }
                ASSERT_EQ(v.type, testjson::Value::Object) << l;
                ASSERT_TRUE(v.has("event") && v["event"].type == testjson::Value::String) << l;
                EXPECT_EQ(v["event"].s(), ev.name) << l;
                ASSERT_TRUE(v.has("args") && v["args"].type == testjson::Value::Object) << l;
                std::set<std::string> got;
                for (const auto& [k, x] : v["args"].fields)
                    got.insert(k);
                EXPECT_EQ(got, want) << ev.name << ": args of " << l;
                for (const char* f :
                     {"schema", "time_ns", "pid", "tid", "comm", "ret", "errno", "end", "arg_info"})
                    EXPECT_TRUE(v.has(f)) << ev.name << ": no \"" << f << "\" in " << l;
            } else if (std::regex_search(l, m, text_line_re())) {
                ++text;
                EXPECT_EQ(m[2].str(), ev.name) << l;
                bool all = true;
                for (const auto& a : ev.args)
                    all = all && l.find(" " + std::string(a.name) + "=") != std::string::npos;
                complete_text += all;
            }
        }
        EXPECT_GT(json, 0) << ev.name << ": no JSON example";
        EXPECT_GT(text, 0) << ev.name << ": no text example";
        EXPECT_GT(complete_text, 0) << ev.name << ": no text example with every argument";
    }
}

// Nothing in the page that the catalog lacks: events, arguments, members.
TEST(DocsEvents, NoEventOrArgumentTheCatalogLacks) {
    const std::string page = read_text(events_page_path());
    const auto secs = event_sections(page);
    EXPECT_EQ(secs.size(), catalog().size());
    std::set<std::string> seen;
    for (const auto& [name, raw] : secs) {
        EXPECT_TRUE(seen.insert(name).second) << "two .SS " << name;
        const EventSpec* ev = find_event(name);
        if (!ev) {
            ADD_FAILURE() << ".SS " << name << " is not an event of the catalog";
            continue;
        }
        for (const std::string& l : split_lines(raw)) {
            if (l.rfind(".BR ", 0) == 0 && l.find("\" \\(em \" \"\\fI") != std::string::npos) {
                const std::string arg = macro_args(l.substr(4)).at(0);
                EXPECT_TRUE(arg_index(*ev, arg) >= 0 || out_index(*ev, arg) >= 0)
                    << name << ": argument or output " << arg << " is not in the catalog";
            }
            if (l.rfind(".IR ", 0) == 0 && l.find("\" \\(em offset ") != std::string::npos) {
                const std::string path = macro_args(l.substr(4)).at(0);
                const std::string arg = path.substr(0, path.find('.'));
                const std::string member = path.substr(std::min(path.size(), arg.size() + 1));
                const int ai = arg_index(*ev, arg), oi = out_index(*ev, arg);
                bool found = false;
                if (ai >= 0 && ev->args[static_cast<std::size_t>(ai)].layout)
                    for (const auto& m : ev->args[static_cast<std::size_t>(ai)].layout->members)
                        found = found || m.name == member;
                if (oi >= 0 && ev->outs[static_cast<std::size_t>(oi)].layout)
                    for (const auto& m : ev->outs[static_cast<std::size_t>(oi)].layout->members)
                        found = found || m.name == member;
                EXPECT_TRUE(found) << name << ": member " << path << " is not in the catalog";
            }
        }
    }
    // And no .SS outside EVENTS that looks like an event.
    std::size_t ss = 0;
    for (std::size_t p = 0; (p = page.find("\n.SS ", p)) != std::string::npos; ++p)
        ++ss;
    EXPECT_EQ(ss, catalog().size());
}

TEST(DocsEvents, TagsSourcesAndSeeAlso) {
    std::string page = read_text(events_page_path());
    for (std::size_t p; (p = page.find("\\-")) != std::string::npos;)
        page.replace(p, 2, "-");
    const std::string tags = section(page, ".SH TAGS", ".SH ");
    for (const char* t : {"K", "U", "TOCTOU", "OPT"})
        EXPECT_NE(tags.find(std::string("\n.B ") + t + "\n"), std::string::npos) << "tag " << t;
    const std::string sources = section(page, ".SH SOURCES", ".SH ");
    for (Source s : {Source::Register, Source::KernelCopy, Source::UserAtEntry, Source::UserLate,
                     Source::UserStack, Source::UserAtReturn})
        EXPECT_NE(sources.find(std::string("\n.B ") + source_name(s) + "\n"), std::string::npos)
            << "source " << source_name(s);
    const std::string see = section(page, ".SH SEE ALSO", ".SH ");
    for (const char* ref : {".BR mqtrace (8)", ".BR mq_overview (7)", ".BR sysvipc (7)", ".BR strace (1)"})
        EXPECT_NE(see.find(ref), std::string::npos) << ref;
    EXPECT_NE(page.find(".TH MQTRACE-EVENTS 7 "), std::string::npos);
}

// Both pages lint clean with mandoc and groff. A missing linter is a failure,
// never a skip: scripts/deps --test installs mandoc and groff-base.
TEST(DocsEvents, ManPagesLintClean) {
    ASSERT_TRUE(have_tool("mandoc")) << "mandoc is not installed, so the man pages cannot be linted; "
                                        "install it (scripts/deps --test installs mandoc)";
    ASSERT_TRUE(have_tool("groff")) << "groff is not installed, so the man pages cannot be linted; "
                                       "install groff-base (scripts/deps --test installs it)";
    const std::string root(MQTRACE_SOURCE_ROOT);
    const std::string events = "'" + root + "/man/mqtrace-events.7'",
                      main_page = "'" + root + "/man/mqtrace.8'";
    EXPECT_EQ(run_command("mandoc -Tlint " + events), "") << "mandoc -Tlint man/mqtrace-events.7";
    EXPECT_EQ(run_command("groff -man -ww -z " + events), "") << "groff -man -ww -z man/mqtrace-events.7";
    EXPECT_EQ(run_command("mandoc -Tlint " + main_page), "") << "mandoc -Tlint man/mqtrace.8";
    EXPECT_EQ(run_command("groff -man -ww -z " + main_page), "") << "groff -man -ww -z man/mqtrace.8";
}

// Every example line of -f json in both pages begins as mqtrace writes it:
// {"event":NAME,"schema":N, with this version (--list's lines have no schema).
TEST(DocsEvents, ExampleJsonLinesCarryTheSchemaVersion) {
    const std::regex head("^\\{\"event\":\"[a-z_]+\",\"schema\":" + std::to_string(kSchemaVersion) + ",");
    int n = 0;
    for (const std::string page : {"/man/mqtrace.8", "/man/mqtrace-events.7"})
        for (const std::string& l : example_lines(read_text(std::string(MQTRACE_SOURCE_ROOT) + page))) {
            if (l.rfind("{\"event\":", 0) != 0 || l.find("\"family\":") != std::string::npos) continue;
            ++n;
            EXPECT_TRUE(std::regex_search(l, head)) << page << ": " << l;
        }
    EXPECT_GE(n, 15);
}
