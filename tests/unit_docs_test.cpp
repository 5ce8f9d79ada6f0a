// The man page, --help, --list and the event catalog agree: every option,
// event, argument, output field, value source and exit status is documented.
#include "mqtrace/catalog.hpp"
#include "mqtrace/cli.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

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
    const std::regex short_re("-([a-z]) \\[ --([a-z-]+) \\]");
    int shorts = 0;
    for (auto it = std::sregex_iterator(help.begin(), help.end(), short_re); it != std::sregex_iterator();
         ++it, ++shorts)
        EXPECT_NE(opts.find(".BR -" + (*it)[1].str() + " \", \" --" + (*it)[2].str()), std::string::npos)
            << "-" << (*it)[1] << " / --" << (*it)[2];
    EXPECT_EQ(shorts, 9);
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
    }
}

TEST(Docs, OutputFieldsSourcesTagsAndExitStatuses) {
    const std::string page = man();
    const std::string json = section(page, ".SS JSON", ".SH ");
    for (const char* f : {"event",      "time_ns",    "cpu",           "pid",   "tid",      "comm", "ret",
                          "errno",      "latency_ns", "end",           "args",  "arg_info", "tags", "source",
                          "unreadable", "hex",        "suspect_fault", "count", "where",    "lost", "late"})
        EXPECT_NE(json.find(f), std::string::npos) << "JSON field " << f;
    for (const char* e : {"returned", "thread-exited", "no-return-seen", "trace-ended"})
        EXPECT_NE(json.find(e), std::string::npos) << e;
    const std::string sources = section(page, ".SH VALUE SOURCES", ".SH ");
    for (Source s :
         {Source::Register, Source::KernelCopy, Source::UserAtEntry, Source::UserLate, Source::UserStack})
        EXPECT_NE(sources.find(source_name(s)), std::string::npos) << source_name(s);
    const std::string tags = section(page, ".SH TAGS", ".SH ");
    for (const char* t : {"K", "U", "TOCTOU", "OPT"})
        EXPECT_NE(tags.find(std::string(".B ") + t), std::string::npos) << t;
    const std::string exits = section(page, ".SH EXIT STATUS", ".SH ");
    for (int code : {kExitOk, kExitError, kExitUsage, kExitUnsupported, kExitPermission})
        EXPECT_NE(exits.find(".B " + std::to_string(code)), std::string::npos) << "exit " << code;
    const std::string text = section(page, ".SS Text", ".SS ");
    for (const char* col : {"TIME", "PID", "TID", "COMM", "EVENT", "RET", "LAT(us)", "ARGS"})
        EXPECT_NE(text.find(col), std::string::npos) << col;
}
