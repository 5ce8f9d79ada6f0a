// Recordings that go on in another file (--rotate-size, -G, SIGHUP): what a
// next file carries over (CarryTracker, on hand-made sub-buffers), and the
// chunks that say so (RecordingWriter, parse_recording). The end-to-end proof,
// every call in exactly one file, is in the integration tests.
#include "mqtrace/carry.hpp"
#include "mqtrace/recording.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace mqtrace;

namespace {

// Event formats: an id and the common fields; the task exit names its thread.
std::string format(int id, const std::string& extra = "") {
    return "name: e" + std::to_string(id) + "\nID: " + std::to_string(id) +
           "\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
           "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n" +
           extra;
}

Probe probe(Role role, int ev, std::vector<Field> fields = {}) {
    return Probe{ProbeKind::Tracepoint, "s", "e", "", std::move(fields), role, ev};
}

Field field(const char* name) {
    Field f;
    f.name = name;
    f.key = name;
    return f;
}

// The table: 0 task_newtask (id 10), 1 exit (11), 2 wrapper (12), 3 entry
// (13), 4 return (14), 5 another event's entry (15).
struct Table {
    std::vector<Probe> probes{probe(Role::TaskNew, -1, {field("pid"), field("comm"), field("clone_flags")}),
                              probe(Role::TaskExit, -1, {field("pid")}),
                              probe(Role::Wrapper, 0),
                              probe(Role::Entry, 0),
                              probe(Role::Return, 0),
                              probe(Role::Entry, 1)};
    std::vector<std::string> formats{format(10, "\tfield:pid_t pid;\toffset:8;\tsize:4;\tsigned:1;\n"
                                                "\tfield:char comm[16];\toffset:12;\tsize:16;\tsigned:0;\n"
                                                "\tfield:u64 clone_flags;\toffset:32;\tsize:8;\tsigned:0;\n"),
                                     format(11, "\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;\n"
                                                "\tfield:pid_t pid;\toffset:24;\tsize:4;\tsigned:1;\n"),
                                     format(12),
                                     format(13),
                                     format(14),
                                     format(15)};
};

// A 4096-byte sub-buffer of events (type id, thread, time), as the kernel
// lays them out (16-byte header, 32-bit event headers with time deltas).
struct Ev {
    Ev(int type_, int tid_, std::uint64_t ts_, int child_ = 0, std::string comm_ = "",
       std::uint64_t flags_ = 0)
        : type(type_), tid(tid_), ts(ts_), child(child_), comm(std::move(comm_)), flags(flags_) {}
    int type, tid;
    std::uint64_t ts;
    int child;           // task events: the new (or exiting) thread
    std::string comm;    // task_newtask
    std::uint64_t flags; // task_newtask
};

PageRef page(int cpu, const std::vector<Ev>& evs) {
    std::string p(4096, '\0');
    const std::uint64_t base = evs.empty() ? 0 : evs.front().ts;
    std::memcpy(p.data(), &base, 8);
    std::size_t at = 16;
    std::uint64_t last = base;
    for (const Ev& e : evs) {
        unsigned char data[40] = {};
        const std::uint16_t type = static_cast<std::uint16_t>(e.type);
        std::memcpy(data, &type, 2);
        std::memcpy(data + 4, &e.tid, 4);
        std::size_t len = 8;
        if (e.type == 10) {
            std::memcpy(data + 8, &e.child, 4);
            std::memcpy(data + 12, e.comm.data(), std::min<std::size_t>(e.comm.size(), 16));
            std::memcpy(data + 32, &e.flags, 8);
            len = 40;
        } else if (e.type == 11) {
            std::memcpy(data + 24, &e.child, 4);
            len = 28;
        }
        const std::uint32_t hdr =
            static_cast<std::uint32_t>(len / 4) | static_cast<std::uint32_t>((e.ts - last) << 5);
        std::memcpy(p.data() + at, &hdr, 4);
        std::memcpy(p.data() + at + 4, data, len);
        at += 4 + len;
        last = e.ts;
    }
    const std::uint64_t commit = at - 16;
    std::memcpy(p.data() + 8, &commit, 8);
    return std::make_shared<const RawPage>(RawPage{cpu, p});
}

std::vector<std::pair<int, std::uint64_t>> open_of(const Carry& c) { return c.open; }

} // namespace

TEST(Carry, CallsInProgressAndRecordsAfterTheMark) {
    Table t;
    CarryTracker k("", t.probes, t.formats);
    // Thread 7: libc wrapper, then entry (page a); thread 8 a whole call (page a).
    const PageRef a = page(0, {{12, 7, 1000}, {13, 7, 1100}, {13, 8, 1200}, {14, 8, 1300}});
    k.page(a);
    k.round(2000);
    Carry c = k.carry();
    EXPECT_EQ(c.boundary, 2000u);
    EXPECT_EQ(open_of(c), (std::vector<std::pair<int, std::uint64_t>>{{7, 1000}}));
    ASSERT_EQ(c.pages.size(), 1u);
    EXPECT_EQ(c.pages[0], a);
    // Thread 7 returns (page b, on another CPU); a new call of thread 9 after the mark (page c).
    const PageRef b = page(1, {{14, 7, 2100}});
    const PageRef d = page(0, {{13, 9, 2600}});
    k.page(b);
    k.page(d);
    k.round(2500);
    c = k.carry();
    EXPECT_TRUE(c.open.empty());
    ASSERT_EQ(c.pages.size(), 1u); // only what is after the mark
    EXPECT_EQ(c.pages[0], d);
    EXPECT_EQ(c.threads, std::vector<int>{9});
    k.round(3000);
    c = k.carry();
    EXPECT_EQ(open_of(c), (std::vector<std::pair<int, std::uint64_t>>{{9, 2600}}));
    EXPECT_EQ(c.pages, std::vector<PageRef>{d});
}

TEST(Carry, RecordsOfAThreadOnTwoCpusAreTakenInTimeOrder) {
    Table t;
    CarryTracker k("", t.probes, t.formats);
    // Thread 7 migrates: its entry at 100 on CPU 1, return at 200 on CPU 0,
    // next entry at 300 on CPU 1; CPU 1's page is written first.
    k.page(page(1, {{13, 7, 100}, {13, 7, 300}}));
    const PageRef ret = page(0, {{14, 7, 200}});
    k.page(ret);
    k.round(1000);
    const Carry c = k.carry();
    EXPECT_EQ(open_of(c), (std::vector<std::pair<int, std::uint64_t>>{{7, 300}}));
    // A return of another event does not end the call in progress; an exit does.
    k.page(page(0, {{13, 5, 1100}, {14, 5, 1150}}));
    k.page(page(0, {{15, 6, 1200}, {14, 6, 1250}}));
    k.round(2000);
    EXPECT_EQ(open_of(k.carry()), (std::vector<std::pair<int, std::uint64_t>>{{6, 1200}, {7, 300}}));
    k.page(page(0, {{11, 7, 2100, 7}}));
    k.round(3000);
    EXPECT_EQ(open_of(k.carry()), (std::vector<std::pair<int, std::uint64_t>>{{6, 1200}}));
}

TEST(Carry, StackCopiesAndThreadNames) {
    Table t;
    CarryTracker k("", t.probes, t.formats);
    k.seed({{1, 1, "init"}, {40, 40, "server"}});
    // Thread 40 creates process 41 and thread 42 of its own; 41 enters a call.
    k.page(page(0, {{10, 40, 100, 41, "child", 0}, {10, 40, 110, 42, "worker", 0x10000}, {13, 41, 500}}));
    StackCopy s;
    s.tid = 41;
    s.ev = 0;
    s.ts = 501;
    k.stack_copy(s);
    StackCopy other = s;
    other.tid = 42;
    other.ts = 5000000; // no entry yet: carried as it is
    k.stack_copy(other);
    k.round(1000);
    const Carry c = k.carry();
    ASSERT_EQ(c.stacks.size(), 2u);
    EXPECT_EQ(c.stacks[0].tid, 41);
    EXPECT_EQ(c.stacks[1].tid, 42);
    // 41 exits while its call goes on in the next file: still named there; 1 and 42 are alive.
    k.page(page(0, {{11, 41, 1100, 41}}));
    k.round(2000);
    Carry none;
    const auto tasks = k.tasks(none);
    std::vector<std::string> names;
    for (const auto& task : tasks)
        names.push_back(std::to_string(task.tid) + " " + std::to_string(task.pid) + " " + task.comm);
    EXPECT_EQ(names, (std::vector<std::string>{"1 1 init", "40 40 server", "42 40 worker"}));
}

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string tmp(const std::string& stem) {
    return (std::filesystem::temp_directory_path() /
            ("mqtrace-unit-" + std::to_string(getpid()) + "-" + stem))
        .string();
}

} // namespace

TEST(Carry, RecordingFilesSayWhereTheyEndAndBegin) {
    Table t;
    RotateOptions r;
    r.size = 300; // bytes
    const std::string base = tmp("rec");
    {
        RecordingWriter w(base, r);
        EXPECT_EQ(w.path(), base);
        w.meta("hp", t.probes, t.formats, 5, "6.1 x86_64", 0, {{1, 1, "init"}});
        EXPECT_FALSE(w.full(1 << 20)); // a file holds at least one round
        w.page(0, "abcd", 4);
        w.round(100);
        EXPECT_TRUE(w.full(1 << 20));
        EXPECT_FALSE(w.moved());
        w.next_file(100, false);
        EXPECT_EQ(w.path(), base + "1");
        w.meta("hp", t.probes, t.formats, 5, "6.1 x86_64", 0, {});
        w.continues(100, {{7, 90}});
        w.carried_page(1, "wxyz", 4);
        StackCopy s;
        s.tid = 7;
        s.ev = 0;
        w.stack_copy(s);
        EXPECT_FALSE(w.full(1 << 20));
        w.page(1, "efgh", 4);
        w.round(200);
        std::filesystem::rename(base + "1", base + "1.old"); // logrotate
        EXPECT_TRUE(w.moved());
        w.next_file(200, true);
        EXPECT_EQ(w.path(), base + "1");
        w.meta("hp", t.probes, t.formats, 5, "6.1 x86_64", 0, {});
        w.continues(200, {});
        w.flush();
        EXPECT_EQ(w.files(), 3u);
        EXPECT_EQ(w.first_path(), base);
    }
    const Recording a = parse_recording(slurp(base));
    EXPECT_FALSE(a.continues);
    EXPECT_TRUE(a.continued);
    EXPECT_EQ(a.end, 100u);
    const Recording b = parse_recording(slurp(base + "1.old"));
    EXPECT_TRUE(b.continues && b.continued);
    EXPECT_EQ(b.begin, 100u);
    EXPECT_EQ(b.end, 200u);
    EXPECT_EQ(b.open, (std::vector<std::pair<int, std::uint64_t>>{{7, 90}}));
    ASSERT_EQ(b.carried.size(), 1u);
    EXPECT_EQ(b.carried[0].cpu, 1);
    EXPECT_EQ(b.carried[0].bytes, "wxyz");
    EXPECT_EQ(b.stacks.size(), 1u);
    EXPECT_EQ(b.pages.size(), 1u);
    const Recording c = parse_recording(slurp(base + "1"));
    EXPECT_TRUE(c.continues);
    EXPECT_FALSE(c.continued);
    EXPECT_EQ(c.begin, 200u);
    // Out of place: carried data after the file's own, a chunk after the end.
    const std::string good = slurp(base + "1.old");
    auto chunk = [](char type, const std::string& payload) {
        std::string s(1, type);
        const auto n = static_cast<std::uint32_t>(payload.size());
        s.append(reinterpret_cast<const char*>(&n), 4);
        return s + payload;
    };
    EXPECT_THROW(parse_recording(good + chunk('R', std::string(8, '\0'))), std::runtime_error);
    try {
        parse_recording(good + chunk('R', std::string(8, '\0')));
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("a chunk after the end of the file ('N')"), std::string::npos)
            << e.what();
    }
    const std::string plain = slurp(base); // ends with N: cut it, then add carried data after D
    const std::string cut = plain.substr(0, plain.size() - 13);
    try {
        parse_recording(cut + chunk('B', std::string(8, '\0')));
        ADD_FAILURE() << "carried data after the file's own";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("carried data out of place"), std::string::npos) << e.what();
    }
    EXPECT_THROW(parse_recording(cut + chunk('N', "short")), std::runtime_error);
    for (const auto& f : {base, base + "1", base + "1.old"})
        std::filesystem::remove(f);
}
