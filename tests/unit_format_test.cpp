// Text and JSON rendering of calls, strace-style decoding of flags, escaping.
#include "fuzz/check.hpp"
#include "mqtrace/catalog.hpp"
#include "mqtrace/format.hpp"
#include "mqtrace/xlat.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/msg.h>

#include <cerrno>
#include <cstdio>
#include <random>

using namespace mqtrace;

namespace {

Call make(const char* ev) {
    Call c;
    c.ev = event_index(*find_event(ev));
    c.ts = 1000000000;
    c.ts_end = 1000012000;
    c.cpu = 1;
    c.pid = 42;
    c.tid = 43;
    c.comm = "app";
    c.end = CallEnd::Returned;
    c.args.resize(find_event(ev)->args.size());
    return c;
}

ArgValue num(std::int64_t v) {
    ArgValue a;
    a.present = true;
    a.raw = v;
    return a;
}

ArgValue str(std::string s, Source src) {
    ArgValue a = num(0x7ffd0000);
    a.content = Content::Str;
    a.str = std::move(s);
    a.src = src;
    return a;
}

ArgValue st(std::vector<std::int64_t> m, Source src) {
    ArgValue a = num(0x7ffd1000);
    a.content = Content::Struct;
    a.members = std::move(m);
    a.src = src;
    return a;
}

FormatOptions json() {
    FormatOptions o;
    o.format = OutputFormat::Json;
    o.clock_offset_ns = 1700000000000000000;
    return o;
}

} // namespace

TEST(Xlat, FlagsLikeStrace) {
    EXPECT_EQ(render_scalar(Decode::OpenFlags, 0102), "O_RDWR|O_CREAT");
    EXPECT_EQ(render_scalar(Decode::OpenFlags, 0), "O_RDONLY");
    EXPECT_EQ(render_scalar(Decode::OpenFlags, 0302 | 02000000), "O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC");
    EXPECT_EQ(render_scalar(Decode::OpenFlags, 01 | 0x40000000), "O_WRONLY|0x40000000");
    // Every flag strace names, in its order.
    EXPECT_EQ(render_scalar(Decode::OpenFlags,
                            O_RDWR | O_CREAT | O_EXCL | O_TRUNC | O_NONBLOCK | O_SYNC | O_DIRECT | O_CLOEXEC),
              "O_RDWR|O_CREAT|O_EXCL|O_TRUNC|O_NONBLOCK|O_SYNC|O_DIRECT|O_CLOEXEC");
    EXPECT_EQ(render_scalar(Decode::OpenFlags, O_ACCMODE | O_NOCTTY | O_APPEND | O_NOFOLLOW | O_NOATIME |
                                                   O_PATH | O_DIRECTORY | FASYNC),
              "O_ACCMODE|O_NOCTTY|O_APPEND|O_NOFOLLOW|O_NOATIME|O_PATH|O_DIRECTORY|FASYNC");
    EXPECT_EQ(render_scalar(Decode::OpenFlags, O_DSYNC | O_TMPFILE), "O_RDONLY|O_DSYNC|O_TMPFILE");
    EXPECT_EQ(render_scalar(Decode::OpenFlags, O_SYNC & ~O_DSYNC), "O_RDONLY|__O_SYNC");
#if defined(__x86_64__)
    EXPECT_EQ(render_scalar(Decode::OpenFlags, 0100000), "O_RDONLY|O_LARGEFILE"); // 0 in glibc's headers
#endif
    EXPECT_EQ(render_scalar(Decode::Mode, 0600), "0600");
    EXPECT_EQ(render_scalar(Decode::IpcKey, 0), "IPC_PRIVATE");
    EXPECT_EQ(render_scalar(Decode::IpcKey, -1), "0xffffffff");
    EXPECT_EQ(render_scalar(Decode::MsggetFlags, 01600), "IPC_CREAT|0600");
    EXPECT_EQ(render_scalar(Decode::MsggetFlags, 03640), "IPC_CREAT|IPC_EXCL|0640");
    EXPECT_EQ(render_scalar(Decode::MsggetFlags, 0), "000");
    EXPECT_EQ(render_scalar(Decode::MsggetFlags, 01000), "IPC_CREAT|000");
    EXPECT_EQ(render_scalar(Decode::Mode, 0), "000");
    EXPECT_EQ(render_scalar(Decode::MsgFlags, 0), "0");
    // strace's order of the names (checked against strace by tests/oracle-test).
    EXPECT_EQ(render_scalar(Decode::MsgFlags, 014000), "MSG_NOERROR|IPC_NOWAIT");
    EXPECT_EQ(render_scalar(Decode::MsgFlags, MSG_NOERROR | MSG_EXCEPT | IPC_NOWAIT),
              "MSG_NOERROR|MSG_EXCEPT|IPC_NOWAIT");
    EXPECT_EQ(render_scalar(Decode::MsgFlags, MSG_COPY | IPC_NOWAIT), "MSG_COPY|IPC_NOWAIT");
    EXPECT_EQ(render_scalar(Decode::MsgFlags, IPC_NOWAIT | 0x400000), "IPC_NOWAIT|0x400000");
    EXPECT_EQ(render_scalar(Decode::MsgctlCmd, 2), "IPC_STAT");
    EXPECT_EQ(render_scalar(Decode::MsgctlCmd, 0x100), "IPC_64|IPC_RMID");
    EXPECT_EQ(render_scalar(Decode::MsgctlCmd, 77), "77");
    EXPECT_EQ(render_scalar(Decode::Signal, 12), "SIGUSR2");
    EXPECT_EQ(render_scalar(Decode::Signal, SIGIO), "SIGIO"); // glibc's abbreviation is POLL
    EXPECT_EQ(render_scalar(Decode::Signal, SIGSYS), "SIGSYS");
    EXPECT_EQ(render_scalar(Decode::Signal, __SIGRTMIN), "SIGRTMIN"); // the kernel's, as strace
    EXPECT_EQ(render_scalar(Decode::Signal, __SIGRTMIN + 1), "SIGRT_1");
    EXPECT_EQ(render_scalar(Decode::Signal, __SIGRTMAX), "SIGRT_" + std::to_string(__SIGRTMAX - __SIGRTMIN));
    EXPECT_EQ(render_scalar(Decode::Signal, __SIGRTMAX + 1), std::to_string(__SIGRTMAX + 1));
    EXPECT_EQ(render_scalar(Decode::Signal, 0), "0");
    EXPECT_EQ(render_scalar(Decode::SigevNotify, 1), "SIGEV_NONE");
    EXPECT_EQ(render_scalar(Decode::MqFlags, 04000), "O_NONBLOCK");
    EXPECT_EQ(render_scalar(Decode::MqFlags, O_NONBLOCK | O_CREAT), "O_NONBLOCK|0x40"); // no O_CREAT here
    EXPECT_EQ(render_scalar(Decode::MqFlags, 1), "0x1");
    EXPECT_EQ(render_scalar(Decode::Ptr, 0), "NULL");
    EXPECT_EQ(errno_name(EEXIST), "EEXIST");
    EXPECT_EQ(errno_name(512), "ERESTARTSYS");
    EXPECT_EQ(errno_name(4000), "E4000");
}

TEST(Format, MqOpenTextLikeStrace) {
    Call c = make("mq_open");
    c.args = {str("q", Source::UserAtEntry), num(0102), num(0600), st({0, 10, 8192, 0}, Source::KernelCopy)};
    c.ret = 3;
    EXPECT_EQ(render_args_text(c),
              "name=\"q\", oflag=O_RDWR|O_CREAT, mode=0600, attr={mq_flags=0, mq_maxmsg=10, mq_msgsize=8192, "
              "mq_curmsgs=0}");
    FormatOptions o;
    o.utc = true;
    o.clock_offset_ns = 1700000000000000000; // 2023-11-14 22:13:20 UTC
    const std::string line = format_item(Item{true, c, {}}, o);
    EXPECT_EQ(line.substr(0, 16), "22:13:21.000000 ");
    EXPECT_NE(line.find(" 42      43      app              mq_open         3               12       name="),
              std::string::npos)
        << line;
}

TEST(Format, ModeAndAttrOnlyWithOCreat) {
    Call c = make("mq_open");
    c.args = {str("q", Source::UserAtEntry), num(0), num(0), num(0)};
    c.ret = -ENOENT;
    EXPECT_EQ(render_args_text(c), "name=\"q\", oflag=O_RDONLY");
    const std::string line = format_item(Item{true, c, {}}, FormatOptions{});
    EXPECT_NE(line.find(" -1 ENOENT "), std::string::npos) << line;
}

TEST(Format, SysvText) {
    Call c = make("msgget");
    c.args = {num(0), num(01600)};
    EXPECT_EQ(render_args_text(c), "key=IPC_PRIVATE, msgflg=IPC_CREAT|0600");
    Call s = make("msgsnd");
    s.args = {num(5), st({42}, Source::KernelCopy), num(7), num(04000)};
    EXPECT_EQ(render_args_text(s), "msqid=5, msgp={mtype=42}, msgsz=7, msgflg=IPC_NOWAIT");
}

// Unsigned 8-byte members (a sigevent's sigev_value, msqid_ds.msg_qbytes) are
// never negative in JSON; signed ones are.
TEST(Format, UnsignedStructMembersInJson) {
    Call c = make("mq_notify");
    c.args = {num(3), st({-1, -5, 0, 7}, Source::UserAtEntry)};
    c.args[1].present = true;
    c.args[1].raw = 0x1000;
    const std::string j = format_item(Item{true, c, {}}, json());
    EXPECT_NE(j.find("\"sevp\":{\"sigev_value\":18446744073709551615,\"sigev_signo\":-5,"), std::string::npos)
        << j;
}

TEST(Format, UnreadableAndUnfinished) {
    Call c = make("mq_unlink");
    c.args[0] = num(0x7ffd0000);
    c.args[0].content = Content::Unreadable;
    c.args[0].src = Source::UserLate;
    c.args[0].why = "process exited before it could be read";
    c.end = CallEnd::ThreadExited;
    EXPECT_EQ(render_args_text(c), "name=0x7ffd0000 <unreadable: process exited before it could be read>");
    const std::string line = format_item(Item{true, c, {}}, FormatOptions{});
    EXPECT_NE(line.find(" ?               -        name="), std::string::npos) << line;
    EXPECT_NE(line.find("<thread-exited>"), std::string::npos);
    const std::string j = format_item(Item{true, c, {}}, json());
    EXPECT_NE(j.find("\"ret\":null,\"errno\":null,\"latency_ns\":null,\"end\":\"thread-exited\""),
              std::string::npos)
        << j;
    // Not NULL: the address, and why its content is missing.
    EXPECT_NE(j.find("\"args\":{\"name\":2147287040}"), std::string::npos) << j;
    EXPECT_NE(
        j.find(
            "\"name\":{\"tags\":[\"U\",\"TOCTOU\"],\"source\":\"user-late\",\"unreadable\":\"process exited "
            "before it could be read\"}"),
        std::string::npos)
        << j;
}

// A value read after the call is never shown as the argument: the address is,
// and the late read goes beside it ('~' in text, "late" in JSON).
TEST(Format, LateReadsAreNotArguments) {
    Call s = make("msgsnd");
    s.args = {num(5), st({42}, Source::UserLate), num(7), num(0)};
    s.args[1].raw = 0x7ffd1000;
    s.args[1].present = true;
    EXPECT_EQ(render_args_text(s), "msqid=5, msgp=0x7ffd1000~{mtype=42}, msgsz=7, msgflg=0");
    const std::string j = format_item(Item{true, s, {}}, json());
    EXPECT_NE(j.find("\"args\":{\"msqid\":5,\"msgp\":2147291136,\"msgsz\":7,\"msgflg\":0},"
                     "\"late\":{\"msgp\":{\"mtype\":42}},\"arg_info\":{\"msgp\":{\"tags\":[\"U\",\"TOCTOU\"],"
                     "\"source\":\"user-late\"}}"),
              std::string::npos)
        << j;
    Call u = make("mq_unlink");
    u.args = {str("q", Source::UserLate)};
    u.args[0].raw = 0x1000;
    u.args[0].present = true;
    EXPECT_EQ(render_args_text(u), "name=0x1000~\"q\"");
    EXPECT_NE(
        format_item(Item{true, u, {}}, json()).find("\"args\":{\"name\":4096},\"late\":{\"name\":\"q\"}"),
        std::string::npos);
}

TEST(Format, JsonLine) {
    Call c = make("mq_open");
    c.args = {str("q", Source::UserAtEntry), num(0102), num(0600), st({0, 10, 8192, 0}, Source::KernelCopy)};
    c.ret = 3;
    EXPECT_EQ(
        format_item(Item{true, c, {}}, json()),
        "{\"event\":\"mq_open\",\"schema\":1,\"time_ns\":1700000001000000000,\"cpu\":1,\"pid\":42,\"tid\":43,"
        "\"comm\":\"app\","
        "\"ret\":3,\"errno\":null,\"latency_ns\":12000,\"end\":\"returned\",\"args\":{\"name\":\"q\","
        "\"oflag\":66,\"mode\":384,\"attr\":{\"mq_flags\":0,\"mq_maxmsg\":10,\"mq_msgsize\":8192,"
        "\"mq_curmsgs\":0}},\"arg_info\":{\"name\":{\"tags\":[\"U\",\"TOCTOU\"],\"source\":\"user-at-"
        "entry\"},"
        "\"attr\":{\"tags\":[\"K\",\"OPT\"],\"source\":\"kernel-copy\"}}}");
    c.ret = -EEXIST;
    const std::string j = format_item(Item{true, c, {}}, json());
    EXPECT_NE(j.find("\"ret\":-17,\"errno\":\"EEXIST\""), std::string::npos) << j;
}

// Numbers are written by the formatter's own decimal conversion: every
// length of digits, both sides of each power of ten, the extremes.
TEST(Format, NumbersOfEveryLength) {
    std::vector<std::uint64_t> vs{0, 1, 9, UINT64_MAX, UINT64_MAX - 1, 1ull << 63, (1ull << 63) - 1};
    for (std::uint64_t p = 10; p <= 10000000000000000000ull; p *= 10) {
        vs.insert(vs.end(), {p - 1, p, p + 1, p / 2 * 3});
        if (p == 10000000000000000000ull) break;
    }
    std::mt19937_64 rng(7);
    for (int i = 0; i < 2000; ++i)
        vs.push_back(rng() >> (rng() % 64));
    for (std::uint64_t v : vs) {
        Call c = make("mq_timedsend"); // mqdes int, msg_ptr a pointer, msg_len size_t
        const auto sv = static_cast<std::int64_t>(v);
        c.args = {num(static_cast<int>(v)), num(sv), num(sv), num(0), num(0)};
        c.ret = -static_cast<std::int64_t>(v % 4096);
        const std::string j = format_item(Item{true, c, {}}, json());
        const std::string want = "\"args\":{\"mqdes\":" + std::to_string(static_cast<int>(v)) +
                                 ",\"msg_ptr\":" + std::to_string(v) + ",\"msg_len\":" + std::to_string(v) +
                                 ",";
        EXPECT_NE(j.find(want), std::string::npos) << v << " " << j;
        EXPECT_NE(j.find("\"ret\":" + std::to_string(c.ret) + ","), std::string::npos) << j;
    }
    Call c = make("msgsnd"); // msqid int, at its extremes
    c.args = {num(INT32_MIN), num(1), num(1), num(0)};
    c.ret = INT64_MIN;
    const std::string j = format_item(Item{true, c, {}}, json());
    EXPECT_NE(j.find("\"msqid\":-2147483648,"), std::string::npos) << j;
    EXPECT_NE(j.find("\"ret\":-9223372036854775808,"), std::string::npos) << j;
}

TEST(Format, LostRecords) {
    Item it;
    it.is_call = false;
    it.lost = LostNotice{2000000000, 1, 39, "ring buffer"};
    EXPECT_EQ(format_item(it, json()),
              "{\"event\":\"lost\",\"schema\":1,\"time_ns\":1700000002000000000,\"cpu\":1,"
              "\"count\":39,\"where\":\"ring buffer\"}");
    it.lost.count = -1;
    EXPECT_NE(format_item(it, json()).find("\"count\":null"), std::string::npos);
    EXPECT_NE(
        format_item(it, FormatOptions{}).find("LOST            unknown events lost on cpu 1 (ring buffer)"),
        std::string::npos)
        << format_item(it, FormatOptions{});
    it.lost = LostNotice{2000000000, -1, 3, "kprobe misses: msgrcv_ret"};
    EXPECT_NE(
        format_item(it, json()).find("\"cpu\":null,\"count\":3,\"where\":\"kprobe misses: msgrcv_ret\""),
        std::string::npos);
    EXPECT_NE(
        format_item(it, FormatOptions{}).find("LOST            3 events lost (kprobe misses: msgrcv_ret)"),
        std::string::npos)
        << format_item(it, FormatOptions{});
}

// -f perfetto: a lost record is an instant on its CPU's track (named once), else global.
TEST(Format, LostRecordsOnTheTimeline) {
    FormatOptions o = json();
    o.format = OutputFormat::Perfetto;
    o.start_ts = 1000000000;
    Item it;
    it.is_call = false;
    std::string all = "[";
    for (const LostNotice& l :
         {LostNotice{2000000000, 1, 39, "ring buffer"}, LostNotice{2500000000, 1, 2, "ring buffer"},
          LostNotice{3000000000, -1, 3, "kprobe misses: msgrcv_ret"}}) {
        it.lost = l;
        all += (all.size() > 1 ? "," : "") + format_item(it, o);
    }
    const testjson::Value v = testjson::Parser(all + "]").parse();
    ASSERT_EQ(v.items.size(), 5u) << all; // the queues' process, CPU 1 named, three instants
    EXPECT_EQ(v.items[1]["name"].s(), "thread_name");
    EXPECT_EQ(v.items[1]["tid"].i(), 2);
    EXPECT_EQ(v.items[1]["args"]["name"].s(), "CPU 1 (lost records)");
    for (int i : {2, 3}) {
        EXPECT_EQ(v.items[i]["ph"].s(), "i");
        EXPECT_EQ(v.items[i]["s"].s(), "t");
        EXPECT_EQ(v.items[i]["pid"].i(), 0);
        EXPECT_EQ(v.items[i]["tid"].i(), 2);
        EXPECT_EQ(v.items[i]["args"]["cpu"].i(), 1);
    }
    EXPECT_EQ(v.items[2]["ts"].text, "1000000.000");
    EXPECT_EQ(v.items[3]["args"]["count"].i(), 2);
    EXPECT_EQ(v.items[4]["s"].s(), "g");
    EXPECT_EQ(v.items[4]["args"]["count"].i(), 3);
}

TEST(Escape, TerminalAndJson) {
    const std::string hostile = "a\"b\\c\nd\te\x1b[31m\x7f\xff\x01";
    EXPECT_EQ(escape_c(hostile), "a\\\"b\\\\c\\nd\\te\\x1b[31m\\x7f\\xff\\x01");
    EXPECT_EQ(escape_json(hostile), "a\\\"b\\\\c\\nd\\te\\u001b[31m\\u007f\\u00ff\\u0001");
    EXPECT_EQ(escape_json("caf\xc3\xa9"), "caf\xc3\xa9"); // valid UTF-8 passes through
    EXPECT_TRUE(valid_utf8("caf\xc3\xa9"));
    EXPECT_FALSE(valid_utf8("\xc3"));
    EXPECT_FALSE(valid_utf8("\xff"));
    EXPECT_FALSE(valid_utf8("\xc0\x80"));
    Call c = make("mq_unlink");
    c.comm = "evil\x1b]0;x\x07";
    c.args[0] = str("\xff", Source::UserAtEntry);
    const std::string j = format_item(Item{true, c, {}}, json());
    EXPECT_NE(j.find("\"comm\":\"evil\\u001b]0;x\\u0007\""), std::string::npos) << j;
    EXPECT_NE(j.find("\"hex\":\"ff\""), std::string::npos) << j;
    const std::string t = format_item(Item{true, c, {}}, FormatOptions{});
    EXPECT_EQ(t.find('\x1b'), std::string::npos);
    EXPECT_EQ(t.find('\x07'), std::string::npos);
}

// One FormatOptions formats every line of a run, and keeps the last line's
// "pid", "tid" and "comm" to write them again: each line must still say its own.
TEST(Format, JsonLinesInARunEachSayTheirOwnCaller) {
    const FormatOptions o = json();
    struct Who {
        int pid, tid;
        std::string comm;
    };
    const std::vector<Who> whos{{10, 10, "a"},
                                {10, 10, "a"},
                                {10, 10, "b"},
                                {10, 11, "b"},
                                {12, 11, "b"},
                                {-1, 11, "b"},
                                {-1, 11, ""},
                                {12, 11, "b\x01"},
                                {10, 10, "a"},
                                {10, 10, "ab"},
                                {10, 10, std::string(40, 'x')}};
    for (const Who& w : whos) {
        Call c = make("mq_unlink");
        c.pid = w.pid;
        c.tid = w.tid;
        c.comm = w.comm;
        const testjson::Value v = testjson::Parser(format_item(Item{true, c, {}}, o)).parse();
        if (w.pid < 0)
            EXPECT_TRUE(v["pid"].is_null());
        else
            EXPECT_EQ(v["pid"].i(), w.pid);
        EXPECT_EQ(v["tid"].i(), w.tid);
        if (w.comm.empty())
            EXPECT_TRUE(v["comm"].is_null());
        else
            EXPECT_EQ(v["comm"].s(), w.comm);
    }
}

// Runs of plain bytes are scanned 16 or 8 at a time: one byte to escape at
// every position of every length to 48, in a run of plain ASCII, comes out
// as a byte-at-a-time escaper writes it.
TEST(Escape, EachByteToEscapeAtEachPositionOfALongRun) {
    auto one = [](unsigned char c, bool js) -> std::string {
        switch (c) {
        case '"': return "\\\"";
        case '\\': return "\\\\";
        case '\n': return "\\n";
        case '\t': return "\\t";
        case '\r': return "\\r";
        }
        if (c >= 0x20 && c < 0x7f) return std::string(1, static_cast<char>(c));
        char b[8];
        std::snprintf(b, sizeof b, js ? "\\u%04x" : "\\x%02x", c);
        return b;
    };
    for (std::size_t n = 1; n <= 48; ++n)
        for (std::size_t at = 0; at < n; ++at)
            for (unsigned char bad : {0x00, 0x0a, 0x1f, 0x22, 0x5c, 0x7f, 0x80, 0xff}) {
                std::string s(n, 'a');
                for (std::size_t i = 0; i < n; ++i)
                    s[i] = static_cast<char>(0x20 + (i * 7 + n) % 95); // every printable byte but DEL
                for (auto& ch : s)
                    if (ch == '"' || ch == '\\') ch = 'q';
                s[at] = static_cast<char>(bad);
                std::string want_c, want_js;
                for (unsigned char ch : s) {
                    want_c += one(ch, false);
                    want_js += one(ch, true);
                }
                ASSERT_EQ(escape_c(s), want_c) << n << " " << at << " " << int(bad);
                ASSERT_EQ(escape_json(s), want_js) << n << " " << at << " " << int(bad);
            }
}

// RFC 3629 exactly: the sequences a lax check lets through are rejected.
TEST(Escape, Utf8ValidationIsStrict) {
    EXPECT_TRUE(valid_utf8(""));
    EXPECT_TRUE(valid_utf8("\x7f"));
    EXPECT_TRUE(valid_utf8("\xc2\x80"));          // U+0080
    EXPECT_TRUE(valid_utf8("\xe0\xa0\x80"));      // U+0800
    EXPECT_TRUE(valid_utf8("\xed\x9f\xbf"));      // U+D7FF
    EXPECT_TRUE(valid_utf8("\xee\x80\x80"));      // U+E000
    EXPECT_TRUE(valid_utf8("\xf0\x90\x80\x80"));  // U+10000
    EXPECT_TRUE(valid_utf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
    EXPECT_FALSE(valid_utf8("\xc1\xbf"));         // overlong 2-byte
    EXPECT_FALSE(valid_utf8("\xe0\x9f\xbf"));     // overlong 3-byte
    EXPECT_FALSE(valid_utf8("\xf0\x8f\xbf\xbf")); // overlong 4-byte
    EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));     // surrogate U+D800
    EXPECT_FALSE(valid_utf8("\xed\xbf\xbf"));     // surrogate U+DFFF
    EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80")); // U+110000
    EXPECT_FALSE(valid_utf8("\xf5\x80\x80\x80")); // lead byte F5
    EXPECT_FALSE(valid_utf8("\x80"));             // lone continuation
    EXPECT_FALSE(valid_utf8("\xe2\x82"));         // truncated
    EXPECT_FALSE(valid_utf8("\xf0\x90\x80"));     // truncated
    EXPECT_FALSE(valid_utf8(std::string("\xe2\x00\xac", 3)));
    // Invalid input: every byte >= 0x80 escaped, so the JSON string is ASCII.
    const std::string j = escape_json("\xed\xa0\x80x");
    EXPECT_EQ(j, "\\u00ed\\u00a0\\u0080x");
    // Every single byte and every pair: text never carries a control, DEL, C1
    // or any byte >= 0x80 raw; JSON never carries a control or invalid UTF-8.
    for (int a = 0; a < 256; ++a)
        for (int b = 0; b < 256; ++b) {
            const std::string s{static_cast<char>(a), static_cast<char>(b)};
            for (unsigned char c : escape_c(s))
                ASSERT_TRUE(c >= 0x20 && c < 0x7f) << a << " " << b;
            const std::string js = escape_json(s);
            ASSERT_TRUE(valid_utf8(js)) << a << " " << b;
            for (unsigned char c : js)
                ASSERT_TRUE(c >= 0x20 && c != 0x7f) << a << " " << b;
        }
}

// The property the fuzz-format target checks under libFuzzer, here over a
// fixed set: adversarial byte strings (every byte value, truncated and
// overlong sequences, surrogates, code points above U+10FFFF, NUL, terminal
// escapes) and 20000 random ones of every length to 300, as a queue name and
// as comm, through both formatters. Each JSON line is valid UTF-8 JSON whose
// strings decode to the exact bytes (with "hex" for invalid UTF-8); each text
// line holds no control, DEL, C1 or high byte.
TEST(Escape, EveryByteStringRoundTripsThroughBothFormatters) {
    std::vector<std::string> cases{"",
                                   std::string(1, '\0'),
                                   std::string("a\0b", 3),
                                   "\x1b[31mred\x1b[0m",
                                   "\x7f\x80\x9f\xa0\xff",
                                   "\xc0\xaf",
                                   "\xe0\x80\xaf",
                                   "\xf0\x80\x80\xaf",
                                   "\xed\xa0\x80",
                                   "\xed\xbf\xbf",
                                   "\xf4\x90\x80\x80",
                                   "\xf8\x88\x80\x80\x80",
                                   "\xe2\x82",
                                   "\xf0\x9f\x98",
                                   "\xe2\x82\xac ok \xf0\x9f\x98\x80",
                                   "\"\\/\b\f\n\r\t",
                                   "\u2028\u2029"};
    std::string all;
    for (int c = 0; c < 256; ++c)
        all += static_cast<char>(c);
    cases.push_back(all);
    cases.push_back(std::string(255, '\xff'));
    std::mt19937 rng(20261202);
    for (int i = 0; i < 20000; ++i) {
        std::string s(rng() % 301, '\0');
        const bool high = rng() % 2; // half of them biased to UTF-8-like bytes
        for (auto& ch : s)
            ch = static_cast<char>(high ? 0x80 + rng() % 0x80 - (rng() % 4 == 0 ? 0x40 : 0) : rng() % 256);
        cases.push_back(std::move(s));
    }
    for (const auto& s : cases) {
        Call c = make("mq_unlink");
        c.args[0] = str(s, Source::UserAtEntry);
        c.comm = s.substr(0, 64);
        Item it;
        it.call = c;
        const std::string j = format_item(it, json());
        fuzzcheck::json_line(j);
        const testjson::Value v = testjson::parse(j);
        ASSERT_EQ(v["args"]["name"].s(), s);
        if (!c.comm.empty()) {
            ASSERT_EQ(v["comm"].s(), c.comm);
        }
        if (valid_utf8(s)) {
            ASSERT_FALSE(v["arg_info"]["name"].has("hex")) << j;
        } else {
            ASSERT_EQ(v["arg_info"]["name"]["hex"].s(), testjson::hex(s)) << j;
        }
        fuzzcheck::text_line(format_item(it, FormatOptions{}));
    }
}

// Output parameters: after " => " in text (name=value as the call returned,
// name~value read after it), "out"/"out_late"/"out_info" in JSON; the
// pointer stays the argument.
TEST(Format, OutputParameters) {
    Call r = make("mq_timedreceive");
    r.args = {num(3), num(0x7ffd2000), num(64), num(0x7ffd3000), ArgValue{}};
    r.args[4].present = true; // NULL timeout
    r.ret = 5;
    r.outs.resize(1);
    r.outs[0] = st({7}, Source::UserAtReturn);
    EXPECT_EQ(render_args_text(r),
              "mqdes=3, msg_ptr=0x7ffd2000, msg_len=64, msg_prio=0x7ffd3000, abs_timeout=NULL => msg_prio=7");
    std::string j = format_item(Item{true, r, {}}, json());
    EXPECT_NE(j.find("\"msg_prio\":2147299328,\"abs_timeout\":null},\"arg_info\":{},\"out\":{\"msg_prio\":7},"
                     "\"out_info\":{\"msg_prio\":{\"source\":\"user-at-return\"}}}"),
              std::string::npos)
        << j;
    r.outs[0].src = Source::UserLate;
    EXPECT_NE(render_args_text(r).find(" => msg_prio~7"), std::string::npos) << render_args_text(r);
    j = format_item(Item{true, r, {}}, json());
    EXPECT_NE(j.find("\"out_late\":{\"msg_prio\":7},\"out_info\":{\"msg_prio\":{\"source\":\"user-late\"}}}"),
              std::string::npos)
        << j;
    EXPECT_EQ(j.find("\"out\":"), std::string::npos) << j;
    r.outs[0].content = Content::Unreadable;
    r.outs[0].why = "process exited before it could be read";
    EXPECT_NE(render_args_text(r).find(" => msg_prio~<unreadable: process exited before it could be read>"),
              std::string::npos);
    j = format_item(Item{true, r, {}}, json());
    EXPECT_NE(j.find(",\"out_info\":{\"msg_prio\":{\"source\":\"user-late\",\"unreadable\":\"process exited "
                     "before it could be read\"}}}"),
              std::string::npos)
        << j;
    // Nothing written (a failed call): no output at all.
    r.outs[0].reset();
    r.ret = -EAGAIN;
    EXPECT_EQ(render_args_text(r).find("=>"), std::string::npos);
    EXPECT_EQ(format_item(Item{true, r, {}}, json()).find("\"out"), std::string::npos);

    Call s = make("msgctl");
    s.args = {num(9), num(IPC_STAT), num(0x7ffd4000)};
    s.ret = 0;
    s.outs.resize(2);
    s.outs[0] = st({0x1234, 0, 0, 0, 0, 0600, 0, 0, 1700000000, 2, 16384, 0, -1}, Source::UserAtReturn);
    EXPECT_EQ(
        render_args_text(s),
        "msqid=9, cmd=IPC_STAT, buf=0x7ffd4000 => buf={msg_perm.key=0x1234, msg_perm.uid=0, "
        "msg_perm.gid=0, msg_perm.cuid=0, msg_perm.cgid=0, msg_perm.mode=0600, msg_stime=0, msg_rtime=0, "
        "msg_ctime=1700000000, msg_qnum=2, msg_qbytes=16384, msg_lspid=0, msg_lrpid=-1}");
    j = format_item(Item{true, s, {}}, json());
    EXPECT_NE(j.find("\"out\":{\"buf\":{\"msg_perm.key\":4660,\"msg_perm.uid\":0,\"msg_perm.gid\":0,"
                     "\"msg_perm.cuid\":0,\"msg_perm.cgid\":0,\"msg_perm.mode\":384,\"msg_stime\":0,"
                     "\"msg_rtime\":0,\"msg_ctime\":1700000000,\"msg_qnum\":2,\"msg_qbytes\":16384,"
                     "\"msg_lspid\":0,\"msg_lrpid\":-1}}"),
              std::string::npos)
        << j;
}

// --payload: the body beside the arguments (sent) or with the outputs
// (received), cut with "...", late with '~'; JSON "body"/"body_late" and
// "body_info" with the whole length, the cut and the exact bytes of one that
// is not valid UTF-8.
TEST(Format, Bodies) {
    Call s = make("mq_timedsend");
    s.args = {num(3), num(0x5000), num(5), num(1), ArgValue{}};
    s.args[4].present = true;
    s.body.content = Content::Str;
    s.body.str = "hel";
    s.body.src = Source::UserStack;
    EXPECT_EQ(render_args_text(s),
              "mqdes=3, msg_ptr=0x5000, msg_len=5, msg_prio=1, abs_timeout=NULL, body=\"hel\"...");
    std::string j = format_item(Item{true, s, {}}, json());
    EXPECT_NE(j.find(",\"body\":\"hel\",\"body_info\":{\"source\":\"user-stack\",\"len\":5,\"cut\":true}}"),
              std::string::npos)
        << j;
    s.body.str = std::string("he\xffl\0", 5);
    s.body.src = Source::UserLate;
    EXPECT_NE(render_args_text(s).find(", body~\"he\\xffl\\x00\""), std::string::npos) << render_args_text(s);
    j = format_item(Item{true, s, {}}, json());
    EXPECT_NE(j.find(",\"body_late\":\"he\\u00ffl\\u0000\",\"body_info\":{\"source\":\"user-late\",\"len\":5,"
                     "\"cut\":false,\"hex\":\"6865ff6c00\"}}"),
              std::string::npos)
        << j;
    Call r = make("msgrcv");
    r.args = {num(9), num(0x7000), num(16), num(42), num(0)};
    r.ret = 7;
    r.outs.resize(1);
    r.outs[0] = st({42}, Source::UserAtReturn);
    r.body.content = Content::Str;
    r.body.str = "payload";
    r.body.src = Source::UserAtReturn;
    EXPECT_EQ(render_args_text(r),
              "msqid=9, msgp=0x7000, msgsz=16, msgtyp=42, msgflg=0 => mtype=42, body=\"payload\"");
    r.outs[0].reset();
    r.body.content = Content::Unreadable;
    r.body.why = "process exited before it could be read";
    r.body.src = Source::UserLate;
    EXPECT_NE(render_args_text(r).find(" => body~<unreadable: process exited before it could be read>"),
              std::string::npos)
        << render_args_text(r);
    j = format_item(Item{true, r, {}}, json());
    EXPECT_NE(j.find(",\"body_info\":{\"source\":\"user-late\",\"len\":7,\"unreadable\":\"process exited "
                     "before it could be read\"}}"),
              std::string::npos)
        << j;
    EXPECT_EQ(j.find("\"body\":"), std::string::npos) << j;
}
