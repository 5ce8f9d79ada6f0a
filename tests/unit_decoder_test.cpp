// Decoding real ring-buffer pages recorded from Debian's 6.1 kernel in the VM
// (scripts/vm/capture-fixtures): replaying them through the decoder, merger and
// correlator must give exactly the JSON lines mqtrace printed live.
#include "json.hpp"
#include "mqtrace/catalog.hpp"
#include "mqtrace/context.hpp"
#include "mqtrace/correlator.hpp"
#include "mqtrace/decoder.hpp"
#include "mqtrace/flows.hpp"
#include "mqtrace/format.hpp"
#include "mqtrace/late.hpp"
#include "mqtrace/reader.hpp"
#include "mqtrace/recording.hpp"
#include "mqtrace/replay.hpp"
#include "mqtrace/schema.hpp"
#include "mqtrace/stack.hpp"
#include "mqtrace/stages.hpp"
#include "mqtrace/tasks.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

using namespace mqtrace;

namespace {

const std::string kFixtures = std::string(MQTRACE_SOURCE_ROOT) + "/tests/fixtures/";

std::unique_ptr<Decoder> decoder_for(const Recording& r) {
    std::vector<EventFormat> fmts;
    for (std::size_t i = 0; i < r.probes.size(); ++i)
        fmts.push_back(
            EventFormat{static_cast<int>(i), r.probes[i].system, r.formats[i], r.probes[i].fields});
    return std::make_unique<Decoder>(r.header_page, fmts);
}

// Replay a recording into JSON lines, as the live run would have printed them
// (its own canary calls left out): the same code as mqtrace -r.
std::vector<std::string> replay_lines(const Recording& r) {
    FormatOptions o;
    o.format = OutputFormat::Json;
    std::vector<std::string> out;
    for (const auto& it : replay(r))
        out.push_back(format_item(it, o));
    return out;
}

// The lines a live run printed (expected.json). Since those recordings,
// every line carries the schema version right after its event.
std::vector<std::string> lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> out;
    const std::string head = "{\"event\":\"";
    for (std::string l; std::getline(in, l);) {
        if (l.rfind(head, 0) == 0) // {"event":"NAME", -> {"event":"NAME","schema":N,
            l.insert(l.find('"', head.size()) + 1, ",\"schema\":" + std::to_string(kSchemaVersion));
        out.push_back(l);
    }
    return out;
}

// Same call, same decoding; time_ns differs by the wall-clock offset only.
void expect_same(const std::vector<std::string>& got, const std::vector<std::string>& want) {
    ASSERT_EQ(got.size(), want.size());
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        testjson::Value g = testjson::parse(got[i]), w = testjson::parse(want[i]);
        const std::int64_t d = w["time_ns"].i() - g["time_ns"].i();
        if (i == 0) offset = d;
        EXPECT_EQ(d, offset) << "line " << i;
        const std::string gt = g["time_ns"].text, wt = w["time_ns"].text;
        std::string gs = got[i], ws = want[i];
        gs.replace(gs.find(gt), gt.size(), "T");
        ws.replace(ws.find(wt), wt.size(), "T");
        EXPECT_EQ(gs, ws) << "line " << i;
    }
}

// Since descriptor context is shown: what the recording's own calls tell
// (mq_open's name, msgget's key; the recorded machine's /proc is out of reach,
// so a key serves the process that got it), forgotten at a lost record and at
// IPC_RMID; none for a reference the kernel refused. Worked out here from the
// expected lines themselves, independently of QueueContext.
void with_queue_context(std::vector<std::string>& want) {
    std::map<std::pair<std::int64_t, std::int64_t>, std::string> fds;  // (pid, fd) -> name
    std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> ids; // (pid, msqid) -> key
    for (auto& l : want) {
        const testjson::Value v = testjson::parse(l);
        const std::string e = v["event"].s();
        if (e == "lost") {
            fds.clear();
            ids.clear();
            continue;
        }
        if (v["pid"].is_null() || v["ret"].is_null()) continue;
        const std::pair<std::int64_t, std::int64_t> ret{v["pid"].i(), v["ret"].i()};
        const bool returned = v["end"].s() == "returned";
        if (e == "mq_open" || e == "msgget") {
            if (ret.second < 0) continue;
            if (e == "msgget")
                ids[ret] = v["args"]["key"].i();
            else if (returned && v["arg_info"]["name"]["source"].s() != "user-late")
                fds[ret] = "/" + v["args"]["name"].s();
            else
                fds.erase(ret);
            continue;
        }
        const bool posix = v["args"].has("mqdes");
        if (!posix && !v["args"].has("msqid")) continue; // mq_unlink
        const testjson::Value& ref = v["args"][posix ? "mqdes" : "msqid"];
        if (ref.is_null()) continue;
        const std::int64_t r = ret.second;
        if (r == -EBADF || (!posix && (r == -EINVAL || r == -EIDRM))) continue;
        const std::pair<std::int64_t, std::int64_t> k{ret.first, ref.i()};
        std::string q;
        if (posix && fds.count(k)) q = ",\"queue\":{\"name\":\"" + fds[k] + "\",\"source\":\"mq_open\"}";
        if (!posix && ids.count(k))
            q = ",\"queue\":{\"key\":" + std::to_string(ids[k]) + ",\"source\":\"msgget\"}";
        l.insert(l.size() - 1, q);
        if (e == "msgctl" && returned && r == 0 && (v["args"]["cmd"].i() & ~0x100) == 0) ids.erase(k);
    }
}

// Since output parameters are shown: on 6.1 they are read after the call
// (late), which a recording does not hold: each one a call wrote says so.
void with_outputs_not_recorded(std::vector<std::string>& want) {
    for (auto& l : want) {
        const testjson::Value v = testjson::parse(l);
        const EventSpec* ev = find_event(v["event"].s());
        if (!ev || ev->outs.empty() || v["ret"].is_null() || v["end"].s() != "returned") continue;
        std::string info;
        for (const OutSpec& o : ev->outs) {
            const testjson::Value& ptr = v["args"][std::string(o.arg)];
            if (ptr.is_null() || ptr.i() == 0) continue;
            const std::int64_t cond = o.when ? v["args"][std::string(o.when->arg)].i() : 0;
            if (!out_written(o, v["ret"].i(), cond)) continue;
            info +=
                std::string(info.empty() ? "" : ",") + "\"" + std::string(o.name) +
                "\":{\"source\":\"user-late\",\"unreadable\":\"not in the recording (read after the call by "
                "live runs only)\"}";
        }
        if (!info.empty()) l.insert(l.size() - 1, ",\"out_info\":{" + info + "}");
    }
}

} // namespace

TEST(Decoder, ReplayOfEveryEventOn61MatchesWhatWasPrinted) {
    Recording r = load_recording(kFixtures + "linux-6.1-kprobe-all");
    ASSERT_FALSE(r.pages.empty());
    auto want = lines(kFixtures + "linux-6.1-kprobe-all/expected.json");
    ASSERT_EQ(want.size(), 40u); // mqworkload all, through libc and through syscall(2)
    // Since that recording msgctl's buf is a struct pointer (decoded for IPC_SET): NULL is null.
    for (auto& l : want)
        if (const auto p = l.find("\"buf\":0}"); p != std::string::npos) l.replace(p, 8, "\"buf\":null}");
    with_queue_context(want);
    with_outputs_not_recorded(want);
    expect_same(replay_lines(r), want);
}

TEST(Decoder, PagesWithMissedEventsBecomeLostRecords) {
    Recording r = load_recording(kFixtures + "linux-6.1-kprobe-lossy");
    const auto got = replay_lines(r);
    auto want = lines(kFixtures + "linux-6.1-kprobe-lossy/expected.json");
    with_queue_context(want);
    // Since that recording, a return whose entry was lost is shown too
    // ("entry-not-seen"), right after the lost record of its CPU: all else is
    // as the live run printed it.
    std::vector<std::string> as_then;
    int entry_lost = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (got[i].find("\"end\":\"entry-not-seen\"") == std::string::npos) {
            as_then.push_back(got[i]);
            continue;
        }
        ++entry_lost;
        const testjson::Value v = testjson::parse(got[i]);
        EXPECT_FALSE(v["ret"].is_null()) << got[i];
        EXPECT_TRUE(v["latency_ns"].is_null()) << got[i];
        bool after_loss = false; // a lost record of its CPU before it, with no call of that CPU in between
        for (std::size_t j = i; j-- > 0;) {
            const testjson::Value u = testjson::parse(got[j]);
            if (u["cpu"].is_null() || u["cpu"].i() != v["cpu"].i()) continue;
            after_loss = u["event"].s() == "lost";
            break;
        }
        EXPECT_TRUE(after_loss) << got[i];
    }
    EXPECT_EQ(entry_lost, 4);
    expect_same(as_then, want);
    // The kernel flagged the pages: in-band counts, in the stream where they happened.
    std::int64_t lost = 0;
    int records = 0;
    for (const auto& l : got) {
        testjson::Value v = testjson::parse(l);
        if (v["event"].s() != "lost") continue;
        ++records;
        EXPECT_GT(v["count"].i(), 0);
        lost += v["count"].i();
    }
    EXPECT_EQ(records, 10);
    EXPECT_GT(lost, 1000);
    // Calls whose return was lost (or whose entry was) are still shown, marked.
    int unmatched = 0;
    for (const auto& l : got)
        if (l.find("\"end\":\"no-return-seen\"") != std::string::npos) ++unmatched;
    EXPECT_GT(unmatched, 0);
}

namespace {

// Every page of a recording decoded into the merger's queues.
void decode_all(const Recording& r, Merger& m) {
    std::vector<EventFormat> fmts;
    for (std::size_t i = 0; i < r.probes.size(); ++i)
        fmts.push_back(
            EventFormat{static_cast<int>(i), r.probes[i].system, r.formats[i], r.probes[i].fields});
    const Decoder dec(r.header_page, fmts);
    for (const auto& p : r.pages)
        dec.decode_page(p.cpu, p.bytes.data(), p.bytes.size(), m.queue(p.cpu));
}

// The lines of a recording's records taken as one round, through CallStages
// a chunk of `chunk` records at a time; chunks: how many it handed on.
std::vector<std::string> staged_lines(const Recording& r, std::size_t chunk, std::size_t& chunks) {
    Merger m;
    decode_all(r, m);
    m.added();
    std::vector<Record*> ready;
    m.release_all(ready);
    TaskTable tasks(false);
    Correlator c(r.probes, tasks);
    OutputReads outputs;
    NoMemory none("not read");
    const auto proc = no_proc_view();
    QueueContext context(*proc);
    Flows flows;
    const CallStages stages{c, outputs, context, &flows};
    std::vector<std::string> out;
    std::vector<Item> items;
    FormatOptions json;
    json.format = OutputFormat::Json;
    chunks = 0;
    stages.run(
        ready, none, items,
        [&](std::vector<Item>& done) {
            ++chunks;
            for (const auto& it : done)
                if (!(it.is_call && it.call.tid == r.self_tid)) out.push_back(format_item(it, json));
            c.recycle(done);
        },
        chunk);
    return out;
}

} // namespace

// A round is handed on chunk by chunk (the calls stay in the cache from the
// correlator to the formatter) and gives the lines it gives whole; a round
// with a lost record goes whole (Flows forgets from the start of the round).
TEST(Decoder, StagesGiveTheSameLinesChunkByChunk) {
    std::size_t chunks = 0;
    const Recording all = load_recording(kFixtures + "linux-6.1-kprobe-all");
    const auto whole = staged_lines(all, 0, chunks);
    EXPECT_EQ(chunks, 1u);
    ASSERT_EQ(whole.size(), 40u);
    for (std::size_t chunk : {1, 2, 7, 256}) {
        EXPECT_EQ(staged_lines(all, chunk, chunks), whole) << chunk;
        EXPECT_GT(chunks, 80u / chunk) << chunk; // two records a call, and inner probes'
    }
    const Recording lossy = load_recording(kFixtures + "linux-6.1-kprobe-lossy");
    const auto lossy_whole = staged_lines(lossy, 0, chunks);
    EXPECT_GT(lossy_whole.size(), 1000u);
    EXPECT_EQ(staged_lines(lossy, 7, chunks), lossy_whole);
    EXPECT_EQ(chunks, 1u);
}

// A reader of nothing (a recording's) says so, and the late reads and the
// outputs read after the call then fail without being batched: the lines are
// those of reads batched and failed one by one, for every corpus recording of
// the syscalls backend (names, structs, outputs and --payload bodies).
TEST(Late, AReaderOfNothingFailsEveryReadAsBatchedReadsDo) {
    // The same reader, but asked read by read (as a reader of processes is).
    struct OneByOne final : MemoryReader {
        NoMemory none{"not in the recording"};
        void read(int tid, std::span<MemRead> reads) override { none.read(tid, reads); }
    };
    const auto lines = [](const Recording& r, MemoryReader& mem) {
        Merger m;
        decode_all(r, m);
        LateReads late(r.probes);
        late.prefetch(m.fresh(), mem);
        m.added();
        std::vector<Record*> ready;
        m.release_all(ready);
        TaskTable tasks(false);
        Correlator c(r.probes, tasks);
        OutputReads outputs(64);
        const auto proc = no_proc_view();
        QueueContext context(*proc);
        const CallStages stages{c, outputs, context, nullptr};
        std::vector<std::string> out;
        std::vector<Item> items;
        FormatOptions json;
        json.format = OutputFormat::Json;
        stages.run(ready, mem, items, [&](std::vector<Item>& done) {
            for (const auto& it : done)
                out.push_back(format_item(it, json));
            c.recycle(done);
        });
        return out;
    };
    const std::string corpus = std::string(MQTRACE_SOURCE_ROOT) + "/tests/fuzz/corpus/recording/";
    for (const char* name : {"all-late.mqt", "all-stack.mqt"}) {
        const Recording r = load_recording(corpus + name);
        NoMemory none("not in the recording");
        ASSERT_EQ(none.reads_nothing(), "not in the recording");
        OneByOne one;
        ASSERT_TRUE(one.reads_nothing().empty());
        const auto got = lines(r, none);
        EXPECT_EQ(got, lines(r, one)) << name;
        std::size_t unread = 0;
        for (const auto& l : got)
            unread += l.find("\"unreadable\":\"not in the recording\"") != std::string::npos;
        EXPECT_GT(unread, 10u) << name; // names, structs, outputs, bodies: none could be read
    }
}

// Late reads of this process's own memory: the same address asked for by
// several calls is read once and each gets its bytes; other lengths, strings
// and failures stay apart.
TEST(Late, SameMemoryReadOnceForEveryCallThatAsks) {
    static const char name[] = "/jobs";
    static const std::int64_t ts[2] = {5, 7};
    const auto at = [](const void* p) {
        return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p));
    };
    std::vector<LateRead> into(7);
    std::vector<MemRead> reads{
        {at(ts), 16, false, &into[0]}, {at(name), 0, true, &into[1]}, {at(ts), 16, false, &into[2]},
        {at(ts), 8, false, &into[3]},  {at(name), 0, true, &into[4]}, {8, 16, false, &into[5]},
        {8, 16, false, &into[6]}, // unmapped: fails, twice
    };
    ProcMemReader mem;
    mem.read(static_cast<int>(getpid()), reads);
    const std::string both(reinterpret_cast<const char*>(ts), 16);
    for (int i : {0, 2}) {
        EXPECT_TRUE(into[i].ok) << i;
        EXPECT_EQ(into[i].bytes, both) << i;
    }
    EXPECT_TRUE(into[3].ok);
    EXPECT_EQ(into[3].bytes, both.substr(0, 8));
    for (int i : {1, 4}) {
        EXPECT_TRUE(into[i].ok) << i;
        EXPECT_EQ(into[i].bytes, "/jobs") << i;
    }
    for (int i : {5, 6}) {
        EXPECT_FALSE(into[i].ok) << i;
        EXPECT_FALSE(into[i].why.empty()) << i;
    }
    // The same reader again (its scratch reused): a string longer than the
    // first chunk read, one that crosses a page, a short one after them.
    const std::string longer(600, 'q');
    const long page = sysconf(_SC_PAGESIZE);
    auto* two = static_cast<char*>(
        mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(two, MAP_FAILED);
    char* across = two + page - 10;
    std::memcpy(across, "/crosses-the-page-boundary", 27);
    std::vector<LateRead> again(3);
    std::vector<MemRead> more{{at(longer.c_str()), 0, true, &again[0]},
                              {at(across), 0, true, &again[1]},
                              {at(name), 0, true, &again[2]}};
    mem.read(static_cast<int>(getpid()), more);
    EXPECT_EQ(again[0].bytes, longer);
    EXPECT_EQ(again[1].bytes, "/crosses-the-page-boundary");
    EXPECT_EQ(again[2].bytes, "/jobs");
    for (const auto& r : again)
        EXPECT_TRUE(r.ok);
    munmap(two, 2 * page);
}

TEST(Decoder, ReadsTheSubBufferSizeFromHeaderPage) {
    Recording r = load_recording(kFixtures + "linux-6.1-kprobe-all");
    EXPECT_EQ(decoder_for(r)->page_size(), 4096);
}

TEST(Decoder, TruncatedOrForeignPagesAreSkippedSafely) {
    Recording r = load_recording(kFixtures + "linux-6.1-kprobe-all");
    auto dec = decoder_for(r);
    RecordBuffer out;
    dec->decode_page(0, "short", 5, out);
    EXPECT_TRUE(out.empty());
    std::string zero(4096, '\0');
    dec->decode_page(0, zero.data(), zero.size(), out);
    EXPECT_TRUE(out.empty());
    // A real page cut short: only whole records inside the cut come out, and no
    // string is read past the end.
    const PageView& p = r.pages.front();
    RecordBuffer full, cut;
    dec->decode_page(p.cpu, p.bytes.data(), p.bytes.size(), full);
    dec->decode_page(p.cpu, p.bytes.data(), 200, cut);
    EXPECT_LE(cut.size(), full.size());
}

// libtraceevent's tokenizer crashes on some control bytes in a format (found
// by fuzz-recording): such a format is refused first, naming the byte.
TEST(Decoder, FormatsWithControlBytesAreRefused) {
    Recording r = load_recording(kFixtures + "linux-6.1-kprobe-all");
    const auto at = r.formats.back().find("field:");
    ASSERT_NE(at, std::string::npos);
    r.formats.back()[at + 2] = '\x11';
    try {
        decoder_for(r);
        FAIL() << "a format with a control byte was accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("holds byte 0x11 at offset " + std::to_string(at + 2)),
                  std::string::npos)
            << e.what();
    }
}

// libtraceevent folds constants in a print format's expressions and divided
// by zero on "R/C->ret" (SIGFPE, found by fuzz-recording): the print format
// is not what mqtrace reads, so libtraceevent is not given it. Every format
// with such an expression decodes the same records as the kernel's.
TEST(Decoder, PrintFormatsAreNotParsed) {
    const Recording r = load_recording(kFixtures + "linux-6.1-kprobe-all");
    Recording hostile = r;
    bool odd_spacing = false;
    for (auto& f : hostile.formats) {
        const auto at = f.find("\nprint fmt:");
        ASSERT_NE(at, std::string::npos);
        // As the tokenizer reads it, whatever the whitespace between the words.
        f = f.substr(0, at) + (odd_spacing ? "\n\tprint  fmt :" : "\nprint fmt:") + " \"0x%lx\", R/C->ret\n";
        odd_spacing = !odd_spacing;
    }
    const auto plain = decoder_for(r);
    const auto odd = decoder_for(hostile);
    std::size_t records = 0;
    for (const auto& p : r.pages) {
        RecordBuffer a, b;
        plain->decode_page(p.cpu, p.bytes.data(), p.bytes.size(), a);
        odd->decode_page(p.cpu, p.bytes.data(), p.bytes.size(), b);
        ASSERT_EQ(a.size(), b.size());
        for (std::size_t i = 0; i < a.size(); ++i) {
            EXPECT_EQ(a[i].probe, b[i].probe);
            ASSERT_EQ(a[i].values.size(), b[i].values.size());
            for (std::size_t v = 0; v < a[i].values.size(); ++v) {
                EXPECT_EQ(a[i].values[v].num, b[i].values[v].num);
                EXPECT_EQ(a[i].values[v].str, b[i].values[v].str);
            }
        }
        records += a.size();
    }
    EXPECT_GT(records, 100u);
}

// A hostile format's field sizes and offsets (found by fuzz-recording: a
// signed field of size 0 was sign-extended by a 64-bit shift, undefined):
// size 0 reads as 0, an offset or size past 64 KiB is refused, named.
TEST(Decoder, FieldSizesAndOffsetsOfAHostileFormat) {
    const Recording r = load_recording(kFixtures + "linux-6.1-kprobe-all");
    Recording zero = r;
    std::size_t changed = 0;
    for (auto& f : zero.formats)
        for (std::size_t at = f.find("size:4;\tsigned:1;"); at != std::string::npos;
             at = f.find("size:4;\tsigned:1;", at)) {
            f.replace(at, 6, "size:0");
            ++changed;
        }
    ASSERT_GT(changed, 10u);
    const auto dec = decoder_for(zero);
    std::size_t records = 0;
    for (const auto& p : r.pages) {
        RecordBuffer out;
        dec->decode_page(p.cpu, p.bytes.data(), p.bytes.size(), out);
        records += out.size();
    }
    EXPECT_GT(records, 100u);
    Recording far = r;
    const auto at = far.formats[0].find("\toffset:8;");
    ASSERT_NE(at, std::string::npos);
    far.formats[0].replace(at, 10, "\toffset:70000;");
    try {
        decoder_for(far);
        FAIL() << "a field at offset 70000 was accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("not a kernel's event format"), std::string::npos) << e.what();
    }
}

TEST(Decoder, StringFieldFaultIsFlagged) {
    // A kprobe string field with a zero-length data_loc (failed fetch).
    Recording r = load_recording(kFixtures + "linux-6.1-kprobe-all");
    auto dec = decoder_for(r);
    // Find an mq_open entry record and zero its name_str length.
    int probe = -1;
    for (std::size_t i = 0; i < r.probes.size(); ++i)
        if (r.probes[i].event == "mq_open") probe = static_cast<int>(i);
    ASSERT_GE(probe, 0);
    for (const auto& p : r.pages) {
        RecordBuffer recs;
        dec->decode_page(p.cpu, p.bytes.data(), p.bytes.size(), recs);
        for (const auto& rec : recs)
            if (rec.probe == probe) {
                EXPECT_FALSE(rec.values[1].fault);
                EXPECT_TRUE(rec.values[1].is_str);
                return;
            }
    }
    FAIL() << "no mq_open record in the fixture";
}

TEST(Merger, ReleasesInTimestampOrderUpToTheWatermark) {
    Merger m;
    auto rec = [](std::uint64_t ts, int cpu) {
        Record r;
        r.ts = ts;
        r.cpu = cpu;
        return r;
    };
    m.push({rec(30, 0), rec(10, 0)});
    m.push({rec(20, 1), rec(40, 1)});
    std::vector<Record*> out;
    m.release(25, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0]->ts, 10u);
    EXPECT_EQ(out[1]->ts, 20u);
    EXPECT_EQ(m.pending(), 2u);
    m.done(); // the released records are done with; their objects are reused
    out.clear();
    m.push({rec(35, 0)});
    m.release_all(out);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0]->ts, 30u);
    EXPECT_EQ(out[1]->ts, 35u);
    EXPECT_EQ(out[2]->ts, 40u);
    m.done();
    EXPECT_EQ(m.pending(), 0u);
}

// Records decoded into the queues stay where they are: released by pointer,
// their objects (and vectors' memory) reused for the next records.
TEST(Merger, RecordsStayInTheQueuesAndAreReused) {
    Merger m;
    auto add = [&](int cpu, std::uint64_t ts) {
        Record& r = m.queue(cpu).add();
        r.ts = ts;
        r.cpu = cpu;
        r.values.resize(3);
        r.values[0].num = static_cast<std::int64_t>(ts);
    };
    add(0, 10);
    add(1, 5);
    add(0, 30);
    ASSERT_EQ(m.fresh().size(), 2u); // one span per CPU that read records
    EXPECT_EQ(m.fresh()[0].size(), 2u);
    EXPECT_EQ(m.fresh()[1].size(), 1u);
    m.added();
    EXPECT_TRUE(m.fresh().empty());
    std::vector<Record*> out;
    m.release(20, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0]->ts, 5u);
    EXPECT_EQ(out[1]->ts, 10u);
    EXPECT_EQ(out[1], &m.queue(0)[0]) << "released in place, not moved";
    const FieldValue* kept = out[1]->values.data();
    m.done();
    // The record waiting (30) moved to the front; the one released is reused, its vector with it.
    ASSERT_EQ(m.queue(0).size(), 1u);
    EXPECT_EQ(m.queue(0)[0].ts, 30u);
    Record& again = m.queue(0).add();
    EXPECT_TRUE(again.values.empty()) << "reused as new";
    EXPECT_EQ(again.values.capacity(), 3u);
    again.values.resize(3);
    EXPECT_EQ(again.values.data(), kept) << "its memory kept";
    // -w: records read and only recorded are dropped before they are taken in.
    m.drop_fresh();
    EXPECT_EQ(m.queue(0).size(), 1u);
    EXPECT_EQ(m.pending(), 1u);
    // Many waiting, few released: the waiting ones are not moved each round,
    // only once as many were released before them.
    Merger held;
    for (std::uint64_t ts : {1, 100, 101, 102, 103}) {
        Record& r = held.queue(0).add();
        r.ts = ts;
    }
    held.added();
    out.clear();
    held.release(50, out);
    ASSERT_EQ(out.size(), 1u);
    const Record* waiting = &held.queue(0)[1];
    held.done();
    EXPECT_EQ(&held.queue(0)[1], waiting);
    EXPECT_EQ(held.pending(), 4u);
    out.clear();
    held.release(101, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0]->ts, 100u);
    EXPECT_EQ(out[1]->ts, 101u);
    held.done(); // 3 released before 2 waiting: now they move to the front
    EXPECT_EQ(held.queue(0).size(), 2u);
    EXPECT_EQ(held.queue(0)[0].ts, 102u);
    out.clear();
    held.release_all(out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[1]->ts, 103u);
}

// Against the definition: every record in (ts, cpu, queue order) order,
// with many ties, across CPUs and watermarks.
TEST(Merger, MatchesAStableSortByTimeThenCpu) {
    std::mt19937 rng(7);
    for (int round = 0; round < 200; ++round) {
        const int cpus = 1 + static_cast<int>(rng() % 5);
        std::vector<Record> all;
        Merger m;
        for (int c = 0; c < cpus; ++c) {
            std::vector<Record> batch;
            std::uint64_t ts = rng() % 4;
            for (int i = static_cast<int>(rng() % 12); i > 0; --i) {
                Record r;
                r.ts = ts += rng() % 3; // equal times on one CPU and across CPUs
                r.cpu = c;
                r.tid = static_cast<int>(all.size()); // identity
                all.push_back(r);
                batch.push_back(r);
            }
            m.push(std::move(batch));
        }
        std::stable_sort(all.begin(), all.end(), [](const Record& a, const Record& b) {
            return a.ts != b.ts ? a.ts < b.ts : a.cpu < b.cpu;
        });
        std::vector<int> got; // tids, in release order
        std::vector<Record*> out;
        for (std::uint64_t mark = 0; mark < 40; mark += 1 + rng() % 6) {
            m.release(mark, out);
            for (const Record* r : out) {
                EXPECT_LE(r->ts, mark);
                got.push_back(r->tid);
            }
            out.clear();
            m.done();
        }
        m.release_all(out);
        for (const Record* r : out)
            got.push_back(r->tid);
        ASSERT_EQ(got.size(), all.size());
        for (std::size_t i = 0; i < all.size(); ++i)
            EXPECT_EQ(got[i], all[i].tid) << "round " << round << " position " << i;
    }
}

// A loss stands at the start of its gap: after the CPU's last record read, or
// after the time up to which the CPU was found empty; other CPUs' records
// untouched. Its end stays: the record the kernel flagged it at, or (counted
// only) the time the counters were read.
TEST(Losses, PlacedAtTheStartOfTheirGapAndEndAtItsEnd) {
    auto rec = [](std::uint64_t ts, int cpu, std::int64_t lost = -2, bool flagged = true) {
        Record r;
        r.ts = ts;
        r.cpu = cpu;
        if (lost != -2) {
            r.kind = RecordKind::Lost;
            r.lost = lost;
            r.until = flagged ? ts : 0; // as the decoder leaves them
        }
        return r;
    };
    RecordBuffer recs{rec(100, 0), rec(150, 1), rec(200, 0), rec(900, 0, 7), rec(900, 0), rec(950, 1, 3)};
    std::uint64_t read_to = 0;
    place_losses(recs, 0, 0, read_to, 5000);
    EXPECT_EQ(recs[3].ts, 201u);
    EXPECT_EQ(recs[3].until, 900u) << "flagged at the record after the gap";
    EXPECT_EQ(recs[3].lost, 7);
    EXPECT_EQ(recs[4].ts, 900u);
    EXPECT_EQ(recs[5].ts, 950u) << "another CPU's";
    EXPECT_EQ(recs[5].until, 950u);
    EXPECT_EQ(read_to, 900u);
    // Found empty up to 5000 in an earlier round, then a loss reported at 7000 with nothing before it.
    RecordBuffer next{rec(7000, 0, 2), rec(7000, 0)};
    read_to = 5000;
    place_losses(next, 0, 0, read_to, 8000);
    EXPECT_EQ(next[0].ts, 5001u);
    EXPECT_EQ(next[0].until, 7000u);
    // Counted only (reconcile_losses: at the round's time): it ends when the counters were read.
    RecordBuffer counted{rec(7100, 0), rec(7500, 0, 4, false)};
    place_losses(counted, 0, 0, read_to, 8000);
    EXPECT_EQ(counted[1].ts, 7101u);
    EXPECT_EQ(counted[1].until, 8000u);
    // Nothing known of the CPU yet: left where the kernel reported it.
    RecordBuffer first{rec(300, 2, 4)};
    read_to = 0;
    place_losses(first, 0, 2, read_to, 8000);
    EXPECT_EQ(first[0].ts, 300u);
    EXPECT_EQ(first[0].until, 300u);
}

TEST(Stats, ParsesPerCpuStats) {
    const std::string st = "entries: 0\noverrun: 39780\ncommit overrun: 3\nbytes: 0\ndropped events: 12\n";
    EXPECT_EQ(stat_value(st, "overrun"), 39780u);
    EXPECT_EQ(stat_value(st, "commit overrun"), 3u);
    EXPECT_EQ(stat_value(st, "dropped events"), 12u);
    EXPECT_EQ(stat_value(st, "read events"), 0u);
    // A key inside another's name is not it; a value runs to the first non-digit.
    EXPECT_EQ(stat_value("commit overrun: 3\noverrun: 5\n", "overrun"), 5u);
    EXPECT_EQ(stat_value("overrun 9\noverrun: 7 x", "overrun"), 7u);
    EXPECT_EQ(stat_value("overrun:", "overrun"), 0u);
}

namespace {
Record plain(std::uint64_t ts, int cpu) {
    Record r;
    r.ts = ts;
    r.cpu = cpu;
    return r;
}
Record lost_rec(std::uint64_t ts, int cpu, std::int64_t n) {
    Record r;
    r.kind = RecordKind::Lost;
    r.ts = ts;
    r.cpu = cpu;
    r.lost = n;
    return r;
}
std::vector<std::int64_t> counts(const RecordBuffer& v) {
    std::vector<std::int64_t> out;
    for (const auto& r : v)
        out.push_back(r.kind == RecordKind::Lost ? r.lost : -100 - static_cast<std::int64_t>(r.ts));
    return out;
}
} // namespace

// The kernel's per-CPU counters decide how many events were lost; in-band
// markers say where. Counts always add up to the counters, whatever the markers.
TEST(Losses, ReconcileWithTheKernelCounters) {
    // Known markers and a remainder no marker carries (a full sub-buffer has no room for it).
    RecordBuffer v{plain(1, 0), lost_rec(2, 0, 5), plain(3, 0)};
    reconcile_losses(v, 0, 0, 12, 99);
    EXPECT_EQ(counts(v), (std::vector<std::int64_t>{-101, 5, -103, 7}));
    EXPECT_EQ(v.back().ts, 99u);
    // An unknown count (-1) takes what the known ones leave; a second unknown nothing.
    v = {lost_rec(2, 0, -1), lost_rec(4, 0, 3), lost_rec(6, 0, -1)};
    reconcile_losses(v, 0, 0, 10, 99);
    EXPECT_EQ(counts(v), (std::vector<std::int64_t>{7, 3}));
    // A marker for losses already reported at an earlier round's remainder: cut to what is left.
    v = {lost_rec(2, 0, 8)};
    reconcile_losses(v, 0, 0, 3, 99);
    EXPECT_EQ(counts(v), (std::vector<std::int64_t>{3}));
    v = {lost_rec(2, 0, 8), plain(3, 0)};
    reconcile_losses(v, 0, 0, 0, 99);
    EXPECT_EQ(counts(v), (std::vector<std::int64_t>{-103}));
    // Other CPUs' records and records before `from` are not touched.
    v = {lost_rec(1, 0, 4), lost_rec(2, 1, 9), lost_rec(3, 0, 2)};
    reconcile_losses(v, 1, 0, 6, 99);
    EXPECT_EQ(counts(v), (std::vector<std::int64_t>{4, 9, 2, 4}));
    // Nothing lost, nothing added.
    v = {plain(1, 0)};
    reconcile_losses(v, 0, 0, 0, 99);
    EXPECT_EQ(v.size(), 1u);
}

// -w's file format: what is written reads back the same, and a damaged or
// hostile file is an error with a reason, never a crash.
TEST(Recording, FileRoundTripAndDamage) {
    const Recording dir = load_recording(kFixtures + "linux-6.1-kprobe-lossy");
    const std::string path = ::testing::TempDir() + "/mqtrace-roundtrip.mqt";
    int kretprobe = 0; // the first in the table
    while (kretprobe < static_cast<int>(dir.probes.size()) &&
           dir.probes[kretprobe].kind != ProbeKind::Kretprobe)
        ++kretprobe;
    ASSERT_LT(kretprobe, static_cast<int>(dir.probes.size()));
    {
        RecordingWriter w(path);
        w.meta(dir.header_page, dir.probes, dir.formats, dir.self_tid, "6.1.0-test x86_64", 1000,
               {{232, 232, "mq worker"}});
        // The live writer records the in-band losses as lost records of their own.
        for (const auto& p : dir.pages) {
            w.page(p.cpu, p.bytes.data(), p.bytes.size());
            RecordBuffer l;
            decoder_for(dir)->page_losses(p.cpu, p.bytes.data(), p.bytes.size(), l);
            for (const auto& r : l)
                w.lost(r);
        }
        // Calls a kprobe missed (kprobe_profile), after the last page: of no CPU, with the probe.
        Record miss;
        miss.kind = RecordKind::Lost;
        miss.cpu = -1;
        miss.ts = 1ull << 62;
        miss.until = miss.ts + 5;
        miss.lost = 3;
        miss.probe = kretprobe;
        w.lost(miss);
        w.flush();
    }
    const Recording file = load_recording(path);
    EXPECT_TRUE(file.exact_losses);
    EXPECT_EQ(file.kernel, "6.1.0-test x86_64");
    EXPECT_EQ(file.self_tid, dir.self_tid);
    EXPECT_EQ(file.clock_offset_ns, 1000);
    ASSERT_EQ(file.tasks.size(), 1u);
    EXPECT_EQ(file.tasks[0].comm, "mq worker");
    ASSERT_EQ(file.pages.size(), dir.pages.size());
    // Pages are views into the file's bytes, read once; a copy of the recording shares them.
    const std::string_view all = *file.storage;
    for (std::size_t i = 0; i < file.pages.size(); ++i) {
        ASSERT_GE(file.pages[i].bytes.data(), all.data());
        ASSERT_LE(file.pages[i].bytes.data() + file.pages[i].bytes.size(), all.data() + all.size());
        ASSERT_EQ(file.pages[i].bytes, dir.pages[i].bytes);
    }
    {
        Recording copy = file;
        const Recording moved = std::move(copy);
        EXPECT_EQ(moved.pages.front().bytes.data(), file.pages.front().bytes.data());
    }
    ASSERT_EQ(file.losses.size(), 11u);
    for (const Record& l : file.losses) // each with its gap's end: the first event after it
        EXPECT_GE(l.until, l.ts);
    EXPECT_NE(file.losses.front().until, 0u);
    EXPECT_EQ(file.losses.front().probe, -1);
    EXPECT_EQ(file.losses.back().cpu, -1);
    EXPECT_EQ(file.losses.back().probe, kretprobe);
    EXPECT_EQ(file.losses.back().lost, 3);
    const std::vector<std::string> read_back = replay_lines(file);
    ASSERT_FALSE(read_back.empty());
    EXPECT_EQ(read_back.back(), "{\"event\":\"lost\",\"schema\":1,\"time_ns\":" + std::to_string(1ull << 62) +
                                    ",\"cpu\":null,\"count\":3,\"where\":\"kprobe misses: " +
                                    dir.probes[kretprobe].event + "\"}");
    // Same calls; lost records at the sub-buffer's time instead of its first event's.
    auto calls = [](const std::vector<std::string>& v) {
        std::vector<std::string> out;
        for (const auto& l : v)
            if (l.find("\"event\":\"lost\"") == std::string::npos) out.push_back(l);
        return out;
    };
    EXPECT_EQ(calls(replay_lines(file)), calls(replay_lines(dir)));
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Every truncation, and bytes flipped all over: an error or a recording, never a crash.
    for (std::size_t cut = 0; cut < bytes.size(); cut += 97) {
        try {
            const Recording r = parse_recording(bytes.substr(0, cut));
            (void)replay(r);
        } catch (const std::runtime_error&) {
        }
    }
    std::string bad = bytes;
    for (std::size_t i = 20; i < bad.size(); i += 131)
        bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    try {
        (void)replay(parse_recording(bad));
    } catch (const std::runtime_error&) {
    }
    EXPECT_THROW(parse_recording("MQTRACE-RECORDING 1\nD\xff\xff\xff\x7f"), std::runtime_error);
    // Lost records of recordings made before gaps had an end (20 bytes: its end
    // not known) or before they named a missing probe (28 bytes).
    for (const std::size_t size : {20u, 28u}) {
        std::string older = bytes;
        const std::size_t at = older.find(std::string("L\x20\0\0\0", 5));
        ASSERT_NE(at, std::string::npos);
        older.replace(at, 5 + 32,
                      std::string("L") + static_cast<char>(size) + std::string(3, '\0') +
                          older.substr(at + 5, size));
        const Recording r = parse_recording(older);
        ASSERT_EQ(r.losses.size(), file.losses.size());
        EXPECT_EQ(r.losses.front().ts, file.losses.front().ts);
        EXPECT_EQ(r.losses.front().lost, file.losses.front().lost);
        EXPECT_EQ(r.losses.front().until, size == 20 ? 0u : file.losses.front().until);
        EXPECT_EQ(r.losses.front().probe, -1);
    }
    { // A probe the table does not have: refused.
        std::string bad_probe = bytes;
        const std::size_t at = bad_probe.rfind(std::string("L\x20\0\0\0", 5));
        ASSERT_NE(at, std::string::npos);
        const auto n = static_cast<std::int32_t>(dir.probes.size());
        std::memcpy(bad_probe.data() + at + 5 + 28, &n, 4);
        EXPECT_THROW(parse_recording(bad_probe), std::runtime_error);
    }
    EXPECT_THROW(parse_recording("not a recording"), std::runtime_error);
    EXPECT_THROW(load_recording(path + ".missing"), std::runtime_error);
    std::remove(path.c_str());
}

// -r reads a recording one round at a time (RecordingStream, Replayer): the
// same lines as the file read whole, memory for a round and not for the file,
// and a damaged part an error when it is reached, after the rounds before it.
std::vector<std::string> streamed_lines(const std::string& path, std::size_t* parts = nullptr,
                                        std::size_t* buffered = nullptr) {
    FormatOptions o;
    o.format = OutputFormat::Json;
    std::vector<std::string> out;
    RecordingStream s(path);
    Replayer rp(s.head(), [&](Item&& it) { out.push_back(format_item(it, o)); });
    std::size_t n = 0;
    for (Recording part; s.next(part); ++n) {
        // A part is one round: its chunks up to its 'R' (the last part: to the end).
        EXPECT_LE(part.rounds.size(), 1u) << path;
        if (!part.rounds.empty()) {
            EXPECT_EQ(part.rounds[0].pages, part.pages.size()) << path;
        }
        rp.feed(part);
        if (buffered) *buffered = std::max(*buffered, s.buffered());
    }
    rp.finish();
    if (parts) *parts = n;
    return out;
}

TEST(Recording, StreamedRoundByRoundAsReadWhole) {
    const std::string corpus = std::string(MQTRACE_SOURCE_ROOT) + "/tests/fuzz/corpus/recording/";
    for (const std::string name :
         {"all-late.mqt", "all-stack.mqt", "continued.mqt", "linux-6.1-kprobe.mqt"}) {
        std::size_t parts = 0;
        const auto got = streamed_lines(corpus + name, &parts);
        EXPECT_EQ(got, replay_lines(load_recording(corpus + name))) << name;
        EXPECT_GE(got.size(), 20u) << name;
        EXPECT_GT(parts, name == "linux-6.1-kprobe.mqt" ? 0u : 1u) << name; // that one: no rounds
    }
    // The directory format is read whole: one part.
    std::size_t parts = 0;
    EXPECT_EQ(streamed_lines(kFixtures + "linux-6.1-kprobe-lossy", &parts),
              replay_lines(load_recording(kFixtures + "linux-6.1-kprobe-lossy")));
    EXPECT_EQ(parts, 1u);

    // A file of 4000 rounds (16 MB): the buffer holds a round, not the file.
    const Recording dir = load_recording(kFixtures + "linux-6.1-kprobe-all");
    const std::string path = ::testing::TempDir() + "/mqtrace-stream.mqt";
    std::uint64_t mark = 0;
    {
        RecordingWriter w(path);
        w.meta(dir.header_page, dir.probes, dir.formats, dir.self_tid, "6.1.0-test x86_64", 0, {});
        for (int k = 0; k < 4000 / static_cast<int>(dir.pages.size()) + 1; ++k)
            for (const auto& p : dir.pages) {
                w.page(p.cpu, p.bytes.data(), p.bytes.size());
                w.round(++mark);
            }
        w.flush();
    }
    ASSERT_GT(std::filesystem::file_size(path), 16'000'000u);
    std::size_t buffered = 0;
    const auto got = streamed_lines(path, &parts, &buffered);
    EXPECT_EQ(got, replay_lines(load_recording(path)));
    EXPECT_EQ(parts, mark);
    EXPECT_EQ(buffered, std::size_t{1} << 20);

    // Damage past the first rounds: those rounds come, then the error, naming the file and the place.
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string cut = ::testing::TempDir() + "/mqtrace-stream-cut.mqt";
    auto write = [&](const std::string& b) { std::ofstream(cut, std::ios::binary | std::ios::trunc) << b; };
    write(bytes.substr(0, bytes.size() / 2));
    {
        RecordingStream s(cut);
        std::size_t n = 0;
        try {
            for (Recording part; s.next(part);)
                ++n;
            ADD_FAILURE() << "a truncated file read to its end";
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find(cut + ": chunk at offset "), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(" runs past the end of the file"), std::string::npos)
                << e.what();
        }
        EXPECT_GT(n, mark / 2 - 10);
        EXPECT_LT(n, mark / 2 + 2);
    }
    // A hostile length: refused, not allocated.
    std::size_t meta = 20; // the metadata: up to the first sub-buffer
    while (meta + 5 <= bytes.size() && bytes[meta] != 'D') {
        std::uint32_t len;
        std::memcpy(&len, bytes.data() + meta + 1, 4);
        meta += 5 + len;
    }
    for (std::uint32_t len : {0xffffffffu, 60u << 20}) {
        std::string h = bytes.substr(0, meta); // then a chunk of that length
        h += 'D';
        h.append(reinterpret_cast<const char*>(&len), 4);
        h += "abcd";
        write(h);
        try {
            RecordingStream s(cut);
            Recording part;
            while (s.next(part)) {
            }
            ADD_FAILURE() << len;
        } catch (const std::runtime_error& e) {
            const std::string why = e.what();
            const std::string at = cut + ": chunk at offset " + std::to_string(meta);
            EXPECT_NE(why.find(len > (64u << 20) ? at + " is too large (4294967295 bytes)"
                                                 : at + " runs past the end of the file"),
                      std::string::npos)
                << why;
        }
    }
    // From a pipe, as from a file.
    const std::string fifo = ::testing::TempDir() + "/mqtrace-stream.fifo";
    ::unlink(fifo.c_str());
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const std::string small = corpus + "all-stack.mqt";
    std::thread feeder([&] {
        std::ifstream src(small, std::ios::binary);
        std::ofstream(fifo, std::ios::binary) << src.rdbuf();
    });
    const auto piped = streamed_lines(fifo);
    feeder.join();
    EXPECT_EQ(piped, replay_lines(load_recording(small)));
    ::unlink(fifo.c_str());
    // "-": standard input.
    const int saved = ::dup(0), file = ::open(small.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(saved, 0);
    ASSERT_GE(file, 0);
    ASSERT_EQ(::dup2(file, 0), 0);
    EXPECT_EQ(RecordingStream("-").name(), "standard input");
    ASSERT_EQ(::lseek(0, 0, SEEK_SET), 0);
    const auto from_stdin = streamed_lines("-");
    ::dup2(saved, 0);
    ::close(saved);
    ::close(file);
    EXPECT_EQ(from_stdin, piped);
    std::remove(cut.c_str());
    std::remove(path.c_str());
}

namespace {
StackCopy copy_at(int tid, std::uint64_t ts, int ev, std::uint64_t sp, std::array<std::uint64_t, 6> args,
                  std::string bytes) {
    StackCopy c;
    c.tid = tid;
    c.ts = ts;
    c.ev = ev;
    c.sp = sp;
    c.args = args;
    c.bytes = std::move(bytes);
    return c;
}
} // namespace

// A struct read from memory (late, or from a stack copy) is decoded with its
// members' signedness: a negative int member stays negative, as the probes'
// in-kernel reads give it.
// A field's bias (do_msgsnd passes msgp->mtext, 8 past msgp) is taken off
// modulo 2^64: a recording's value may be any, INT64_MIN too (found by
// fuzz-decoder as a signed overflow under UBSan).
TEST(Correlator, BiasedAddressesWrapAround) {
    const int msgsnd = event_index(*find_event("msgsnd"));
    Probe entry{ProbeKind::Kprobe, "mqtrace", "msgsnd_in", "", {}, Role::Entry, msgsnd};
    Field f;
    f.key = "msgp";
    f.bias = 8;
    entry.fields.push_back(f);
    TaskTable tasks(false);
    Correlator c({entry}, tasks);
    std::vector<Item> out;
    for (const std::int64_t v : {std::int64_t{0x1008}, INT64_MIN}) {
        Record r;
        r.ts = 1;
        r.tid = 7;
        r.probe = 0;
        r.values.resize(1);
        r.values[0].num = v;
        c.feed(r, out);
    }
    c.finish(out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].call.args[1].raw, 0x1000);
    EXPECT_EQ(static_cast<std::uint64_t>(out[1].call.args[1].raw), 0x7ffffffffffffff8u);
}

TEST(Correlator, SignedMembersOfStructsReadFromMemoryStayNegative) {
    const int notify = event_index(*find_event("mq_notify"));
    Probe entry{ProbeKind::Tracepoint, "syscalls", "sys_enter_mq_notify", "", {}, Role::Entry, notify};
    for (int i = 0; i < 2; ++i) {
        Field f;
        f.key = std::string(find_event("mq_notify")->args[static_cast<std::size_t>(i)].name);
        f.pos = i;
        entry.fields.push_back(f);
    }
    TaskTable tasks(false);
    Correlator c({entry}, tasks);
    Record r;
    r.ts = 1;
    r.tid = 7;
    r.probe = 0;
    r.values.resize(2);
    r.values[0].num = 3;
    r.values[1].num = 0x1000;
    LateRead lr;
    lr.arg = 1;
    lr.addr = 0x1000;
    lr.len = 20;
    lr.ok = true;
    // sigev_value 0x1122334455667788, sigev_signo -1291197568, sigev_notify -1, thread id 42
    lr.bytes = std::string("\x88\x77\x66\x55\x44\x33\x22\x11"
                           "\x80\xe3\x09\xb3"
                           "\xff\xff\xff\xff"
                           "\x2a\x00\x00\x00",
                           20);
    r.late.push_back(lr);
    std::vector<Item> out;
    c.feed(r, out);
    c.finish(out);
    ASSERT_EQ(out.size(), 1u);
    const ArgValue& sev = out[0].call.args[1];
    ASSERT_EQ(sev.content, Content::Struct);
    ASSERT_EQ(sev.members.size(), 4u);
    EXPECT_EQ(sev.members[0], 0x1122334455667788);
    EXPECT_EQ(sev.members[1], -1291197568);
    EXPECT_EQ(sev.members[2], -1);
    EXPECT_EQ(sev.members[3], 42);
}

namespace {
// Memory of one fake process: reads inside [base, base + bytes) succeed.
class FakeMemory final : public MemoryReader {
public:
    std::uint64_t base = 0;
    std::string bytes;
    int reads = 0;
    void read(int, std::span<MemRead> rs) override {
        ++reads;
        for (auto& r : rs) {
            r.into->ok = r.addr >= base && r.addr + r.len <= base + bytes.size();
            if (r.into->ok)
                r.into->bytes = bytes.substr(r.addr - base, r.len);
            else
                r.into->why = "bad address (Bad address)";
        }
    }
};

Probe syscall_probe(const char* ev, Role role) {
    const int e = event_index(*find_event(ev));
    Probe p{ProbeKind::Tracepoint,
            "syscalls",
            std::string(role == Role::Entry ? "sys_enter_" : "sys_exit_") + ev,
            "",
            {},
            role,
            e};
    if (role == Role::Return) {
        Field f;
        f.name = "ret";
        f.key = "$ret";
        p.fields.push_back(f);
        return p;
    }
    for (std::size_t i = 0; i < find_event(ev)->args.size(); ++i) {
        Field f;
        f.key = std::string(find_event(ev)->args[i].name);
        f.pos = static_cast<int>(i);
        p.fields.push_back(f);
    }
    return p;
}

Record rec(int probe, std::uint64_t ts, int tid, std::vector<std::int64_t> nums) {
    Record r;
    r.ts = ts;
    r.tid = tid;
    r.probe = probe;
    for (auto n : nums) {
        FieldValue v;
        v.num = n;
        r.values.push_back(v);
    }
    return r;
}
} // namespace

// Outputs no probe read at return are read after it, only for calls that
// wrote them (success; msgctl by command), one batch per thread.
TEST(OutputReads, ReadAfterReturnOnlyWhatTheCallWrote) {
    TaskTable tasks(false);
    Correlator c({syscall_probe("mq_timedreceive", Role::Entry),
                  syscall_probe("mq_timedreceive", Role::Return), syscall_probe("msgctl", Role::Entry),
                  syscall_probe("msgctl", Role::Return)},
                 tasks);
    std::vector<Item> items;
    c.feed(rec(0, 1, 7, {3, 0x1000, 64, 0x2000, 0}), items);
    c.feed(rec(1, 2, 7, {5}), items); // received 5 bytes: msg_prio written
    c.feed(rec(0, 3, 7, {3, 0x1000, 64, 0x2000, 0}), items);
    c.feed(rec(1, 4, 7, {-EAGAIN}), items); // failed: nothing written
    c.feed(rec(0, 5, 7, {3, 0x1000, 64, 0, 0}), items);
    c.feed(rec(1, 6, 7, {5}), items); // NULL msg_prio: nothing to read
    c.feed(rec(2, 7, 7, {9, IPC_RMID, 0x3000}), items);
    c.feed(rec(3, 8, 7, {0}), items); // IPC_RMID writes no buf
    c.feed(rec(2, 9, 7, {9, IPC_STAT | 0x100, 0x3000}), items);
    c.feed(rec(3, 10, 7, {0}), items); // IPC_64|IPC_STAT writes buf
    c.feed(rec(2, 11, 7, {9, MSG_INFO, 0x4000}), items);
    c.feed(rec(3, 12, 7, {5}), items); // MSG_INFO writes info (at an unreadable address)
    ASSERT_EQ(items.size(), 6u);
    FakeMemory mem;
    mem.base = 0x2000;
    mem.bytes = std::string("\x2a\0\0\0", 4) + std::string(0x1000 - 4, '\0');
    // msqid_ds at 0x3000: key 0x1234, mode 0600, qnum 2, lrpid -1
    std::string ds(120, '\0');
    ds[0] = 0x34;
    ds[1] = 0x12;
    ds[20] = static_cast<char>(0600 & 0xff);
    ds[21] = static_cast<char>(0600 >> 8);
    ds[80] = 2;
    for (int i = 100; i < 104; ++i)
        ds[static_cast<std::size_t>(i)] = '\xff';
    mem.bytes += ds;
    OutputReads outs;
    outs.fill(items, mem);
    EXPECT_EQ(mem.reads, 1); // one thread: one batch
    ASSERT_EQ(items[0].call.outs.size(), 1u);
    EXPECT_EQ(items[0].call.outs[0].content, Content::Struct);
    EXPECT_EQ(items[0].call.outs[0].src, Source::UserLate);
    EXPECT_EQ(items[0].call.outs[0].members, (std::vector<std::int64_t>{42}));
    EXPECT_EQ(items[1].call.outs[0].content, Content::None);
    EXPECT_EQ(items[2].call.outs[0].content, Content::None);
    EXPECT_EQ(items[3].call.outs[0].content, Content::None);
    EXPECT_EQ(items[3].call.outs[1].content, Content::None);
    const ArgValue& buf = items[4].call.outs[0];
    ASSERT_EQ(buf.content, Content::Struct);
    ASSERT_EQ(buf.members.size(), 13u);
    EXPECT_EQ(buf.members[0], 0x1234);
    EXPECT_EQ(buf.members[5], 0600);
    EXPECT_EQ(buf.members[9], 2);
    EXPECT_EQ(buf.members[12], -1);
    EXPECT_EQ(items[4].call.outs[1].content, Content::None);
    EXPECT_EQ(items[5].call.outs[0].content, Content::None);
    EXPECT_EQ(items[5].call.outs[1].content, Content::Unreadable);
    EXPECT_EQ(items[5].call.outs[1].why, "bad address (Bad address)");
}

// A return probe that read the outputs in the caller's context (6.9+):
// taken as they are, and no late read is made for them.
TEST(OutputReads, ValuesReadAtReturnAreKept) {
    Probe ret = syscall_probe("mq_getsetattr", Role::Return);
    ret.kind = ProbeKind::Kretprobe;
    for (const char* m : {"mq_flags", "mq_maxmsg", "mq_msgsize", "mq_curmsgs"}) {
        Field f;
        f.key = std::string(">oldattr.") + m;
        f.name = "x";
        f.src = Source::UserAtReturn;
        ret.fields.push_back(f);
    }
    TaskTable tasks(false);
    Correlator c({syscall_probe("mq_getsetattr", Role::Entry), ret}, tasks);
    std::vector<Item> items;
    c.feed(rec(0, 1, 7, {3, 0, 0x5000}), items);
    c.feed(rec(1, 2, 7, {0, O_NONBLOCK, 10, 8192, 1}), items);
    c.feed(rec(0, 3, 7, {3, 0, 0x5000}), items);
    c.feed(rec(1, 4, 7, {-EBADF, 1, 2, 3, 4}), items); // failed: what the probe read is not an output
    ASSERT_EQ(items.size(), 2u);
    FakeMemory mem;
    OutputReads outs;
    outs.fill(items, mem);
    EXPECT_EQ(mem.reads, 0);
    const ArgValue& old = items[0].call.outs[0];
    EXPECT_EQ(old.content, Content::Struct);
    EXPECT_EQ(old.src, Source::UserAtReturn);
    EXPECT_EQ(old.members, (std::vector<std::int64_t>{O_NONBLOCK, 10, 8192, 1}));
    EXPECT_EQ(items[1].call.outs[0].content, Content::None);
}

namespace {
// The records of ready, in order, as the merger hands them to the stages (by pointer).
void apply_copies(std::vector<Record>& ready, const std::vector<Probe>& table, StackQueue& q) {
    std::vector<Record*> in_order;
    for (auto& r : ready)
        in_order.push_back(&r);
    apply_stack_copies(in_order, table, q, false);
}
} // namespace

// Stack copies pair with syscall entries one to one, in order per thread, by
// event and arguments; a call with nothing to decode still takes its copy;
// after a loss none is used.
TEST(StackCopies, PairOneToOneAndNeverAfterALoss) {
    const int msgsnd = event_index(*find_event("msgsnd"));
    const std::vector<Probe> table{syscall_probe("msgsnd", Role::Entry)};
    auto call = [&](std::uint64_t ts, std::uint64_t msgp) {
        Record r;
        r.ts = ts;
        r.tid = 7;
        r.probe = 0;
        r.values.resize(4);
        r.values[0].num = 3;
        r.values[1].num = static_cast<std::int64_t>(msgp);
        r.values[2].num = 5;
        if (msgp) {
            LateRead lr;
            lr.arg = 1;
            lr.addr = msgp;
            lr.len = 8;
            lr.ok = true;
            lr.bytes = "poisoned";
            r.late.push_back(lr);
        }
        return r;
    };
    const std::string mtype42("\x2a\0\0\0\0\0\0\0", 8), mtype43("\x2b\0\0\0\0\0\0\0", 8);
    StackQueue q;
    q.push(copy_at(7, 100, msgsnd, 0x1000, {3, 0x1010, 5, 0, 0, 0}, std::string(16, 'x') + mtype42));
    q.push(
        copy_at(7, 200, msgsnd, 0x1000, {3, 0, 5, 0, 0, 0}, std::string(16, 'x'))); // NULL: nothing to decode
    q.push(copy_at(7, 300, msgsnd, 0x1000, {3, 0x1010, 5, 0, 0, 0}, std::string(16, 'x') + mtype43));
    std::vector<Record> ready{call(101, 0x1010), call(201, 0), call(301, 0x1010)};
    apply_copies(ready, table, q);
    EXPECT_TRUE(ready[0].late[0].stack);
    EXPECT_EQ(ready[0].late[0].bytes, mtype42);
    EXPECT_TRUE(ready[2].late[0].stack);
    EXPECT_EQ(ready[2].late[0].bytes, mtype43) << "the NULL call took its own copy";
    // Other arguments: not this call's copy.
    q.push(copy_at(7, 400, msgsnd, 0x1000, {4, 0x1010, 5, 0, 0, 0}, std::string(16, 'x') + mtype42));
    ready = {call(401, 0x1010)};
    apply_copies(ready, table, q);
    EXPECT_FALSE(ready[0].late[0].stack);
    EXPECT_EQ(ready[0].late[0].bytes, "poisoned");
    // Outside the copied window: stays late.
    q.push(copy_at(7, 500, msgsnd, 0x1000, {3, 0x2000, 5, 0, 0, 0}, std::string(24, 'x')));
    ready = {call(501, 0x2000)};
    apply_copies(ready, table, q);
    EXPECT_FALSE(ready[0].late[0].stack);
    // A loss in the round: no copy is used, all are forgotten.
    q.push(copy_at(7, 600, msgsnd, 0x1000, {3, 0x1010, 5, 0, 0, 0}, std::string(16, 'x') + mtype42));
    Record lost;
    lost.kind = RecordKind::Lost;
    lost.lost = 1;
    ready = {lost, call(601, 0x1010)};
    apply_copies(ready, table, q);
    EXPECT_FALSE(ready[1].late[0].stack);
    ready = {call(602, 0x1010)};
    apply_copies(ready, table, q);
    EXPECT_FALSE(ready[0].late[0].stack) << "the copy was forgotten with the loss";
    // Strings end inside the copy, or are not taken from it.
    StackCopy s = copy_at(7, 0, msgsnd, 0x1000, {}, std::string("ab\0cd", 5));
    std::string out;
    EXPECT_TRUE(from_stack(s, 0x1000, 0, out));
    EXPECT_EQ(out, "ab");
    EXPECT_FALSE(from_stack(s, 0x1003, 0, out));
    EXPECT_FALSE(from_stack(s, 0xfff, 1, out));
    EXPECT_FALSE(from_stack(s, 0x1004, 2, out));
}

// The rings are read one CPU after another: a thread that moved from CPU 1 to
// CPU 0 has its later copies (CPU 0's ring) read before its earlier ones (CPU
// 1's). Each still pairs with its own call (seen in the oracle: every call of
// a round that ran on CPU 1 fell back to late reads).
TEST(StackCopies, PairAcrossCpusReadOneAfterAnother) {
    const int msgsnd = event_index(*find_event("msgsnd"));
    const std::vector<Probe> table{syscall_probe("msgsnd", Role::Entry)};
    auto call = [&](std::uint64_t ts) {
        Record r;
        r.ts = ts;
        r.tid = 7;
        r.probe = 0;
        r.values = {FieldValue{3, {}, false, false}, FieldValue{0x1010, {}, false, false},
                    FieldValue{5, {}, false, false}, FieldValue{0, {}, false, false}};
        LateRead lr;
        lr.arg = 1;
        lr.addr = 0x1010;
        lr.len = 8;
        lr.ok = true;
        lr.bytes = "poisoned";
        r.late.push_back(lr);
        return r;
    };
    auto mtype = [](char t) { return std::string(16, 'x') + std::string(1, t) + std::string(7, '\0'); };
    StackQueue q;
    // CPU 0's ring first (the thread's last two calls, 5 and 6 ms in), then CPU 1's (its first two).
    q.push(copy_at(7, 5000000, msgsnd, 0x1000, {3, 0x1010, 5, 0, 0, 0}, mtype(3)));
    q.push(copy_at(7, 6000000, msgsnd, 0x1000, {3, 0x1010, 5, 0, 0, 0}, mtype(4)));
    q.push(copy_at(7, 1000, msgsnd, 0x1000, {3, 0x1010, 5, 0, 0, 0}, mtype(1)));
    q.push(copy_at(7, 2000, msgsnd, 0x1000, {3, 0x1010, 5, 0, 0, 0}, mtype(2)));
    std::vector<Record> ready{call(1001), call(2001), call(5000001), call(6000001)};
    apply_copies(ready, table, q);
    for (char i = 0; i < 4; ++i) {
        SCOPED_TRACE(static_cast<int>(i));
        const LateRead& lr = ready[static_cast<std::size_t>(i)].late[0];
        EXPECT_TRUE(lr.stack);
        EXPECT_EQ(lr.bytes, mtype(static_cast<char>(i + 1)).substr(16));
    }
}

// A copy of the stack taken at syscall exit gives the outputs the kernel wrote
// there, exactly as the call returned (user-at-return): paired with the call
// by thread, event and the arguments its entry had; nothing for a failed call
// or a pointer outside the copy.
TEST(StackCopies, OutputsFromTheCopyTakenAtExit) {
    const int rcv = event_index(*find_event("mq_timedreceive"));
    const std::vector<Probe> table{syscall_probe("mq_timedreceive", Role::Entry),
                                   syscall_probe("mq_timedreceive", Role::Return)};
    StackQueue q;
    auto exit_copy = [&](std::uint64_t ts, std::uint64_t prio_ptr, std::uint32_t prio) {
        StackCopy c = copy_at(7, ts, rcv, 0x1000, {3, 0x5000, 64, prio_ptr, 0, 0},
                              std::string(8, 'x') + std::string(reinterpret_cast<const char*>(&prio), 4));
        c.at_exit = true;
        return c;
    };
    q.push(exit_copy(110, 0x1008, 9));
    std::vector<Record> ready{rec(0, 100, 7, {3, 0x5000, 64, 0x1008, 0}), rec(1, 110, 7, {5})};
    apply_copies(ready, table, q);
    ASSERT_EQ(ready[1].late.size(), 1u);
    EXPECT_EQ(ready[1].late[0].arg, 0);
    EXPECT_TRUE(ready[1].late[0].stack);
    TaskTable tasks(false);
    Correlator c(table, tasks);
    std::vector<Item> items;
    for (const auto& r : ready)
        c.feed(r, items);
    ASSERT_EQ(items.size(), 1u);
    EXPECT_EQ(items[0].call.outs[0].content, Content::Struct);
    EXPECT_EQ(items[0].call.outs[0].src, Source::UserAtReturn);
    EXPECT_EQ(items[0].call.outs[0].members, (std::vector<std::int64_t>{9}));
    // A failed call wrote nothing: its copy is taken, no output.
    q.push(exit_copy(210, 0x1008, 11));
    ready = {rec(0, 200, 7, {3, 0x5000, 64, 0x1008, 0}), rec(1, 210, 7, {-EAGAIN})};
    apply_copies(ready, table, q);
    EXPECT_TRUE(ready[1].late.empty());
    // Another call's arguments (a copy of another thread's call): not taken.
    q.push(exit_copy(310, 0x1008, 12));
    ready = {rec(0, 300, 7, {4, 0x5000, 64, 0x1008, 0}), rec(1, 310, 7, {5})};
    apply_copies(ready, table, q);
    EXPECT_TRUE(ready[1].late.empty());
    // A pointer outside the copy: left to the late read.
    q.push(exit_copy(410, 0x9000, 13));
    ready = {rec(0, 400, 7, {3, 0x5000, 64, 0x9000, 0}), rec(1, 410, 7, {5})};
    apply_copies(ready, table, q);
    EXPECT_TRUE(ready[1].late.empty());
    // The entry in one round, the return in the next (a blocked receive).
    q.push(exit_copy(610, 0x1008, 14));
    ready = {rec(0, 500, 7, {3, 0x5000, 64, 0x1008, 0})};
    apply_copies(ready, table, q);
    ready = {rec(1, 610, 7, {5})};
    apply_copies(ready, table, q);
    ASSERT_EQ(ready[0].late.size(), 1u);
    EXPECT_EQ(ready[0].late[0].bytes, std::string("\x0e\0\0\0", 4));
}

// The sub-buffer walker against libtraceevent's kbuffer, on every real page we
// have (Debian 6.1 kprobe pages, this machine's syscall pages): the same
// events, time stamps, data and missed counts.
extern "C" {
#include <event-parse.h>
#include <kbuffer.h>
}
#include "mqtrace/subbuf.hpp"

TEST(Subbuf, WalksRealPagesAsKbufferDoes) {
    const std::string root = std::string(MQTRACE_SOURCE_ROOT) + "/tests/";
    std::size_t pages = 0, events = 0, missed_pages = 0;
    for (const std::string& path :
         {root + "fixtures/linux-6.1-kprobe-all", root + "fixtures/linux-6.1-kprobe-lossy",
          root + "fuzz/corpus/recording/all-late.mqt", root + "fuzz/corpus/recording/all-stack.mqt"}) {
        const Recording r = load_recording(path);
        tep_handle* tep = tep_alloc();
        tep_set_long_size(tep, 8);
        std::string hp = r.header_page;
        ASSERT_EQ(tep_parse_header_page(tep, hp.data(), static_cast<unsigned long>(hp.size()), 8), 0);
        kbuffer* kb = tep_kbuffer(tep);
        const SubbufLayout l = parse_header_page(r.header_page);
        EXPECT_EQ(l.data_offset, 16u);
        EXPECT_EQ(l.page, 4096u);
        Subbuf sb;
        for (const auto& p : r.pages) {
            std::string copy(p.bytes);
            copy.resize(l.page, '\0');
            ASSERT_TRUE(walk_subbuffer(reinterpret_cast<const unsigned char*>(p.bytes.data()), p.bytes.size(),
                                       l, sb));
            EXPECT_FALSE(sb.damaged) << path;
            ASSERT_EQ(kbuffer_load_subbuffer(kb, copy.data()), 0);
            if (!sb.events.empty()) {
                EXPECT_EQ(sb.events[0].ts, kbuffer_timestamp(kb)); // kbuffer has read the first event
            }
            EXPECT_EQ(sb.missed, kbuffer_missed_events(kb)) << path;
            missed_pages += sb.missed != 0;
            std::size_t i = 0;
            unsigned long long ts = 0;
            for (void* d = kbuffer_read_event(kb, &ts); d; d = kbuffer_next_event(kb, &ts), ++i) {
                ASSERT_LT(i, sb.events.size()) << path;
                EXPECT_EQ(sb.events[i].ts, ts);
                EXPECT_EQ(sb.events[i].offset, static_cast<std::size_t>(static_cast<char*>(d) - copy.data()));
                EXPECT_EQ(sb.events[i].size, static_cast<std::size_t>(kbuffer_event_size(kb)));
            }
            EXPECT_EQ(i, sb.events.size()) << path;
            ++pages;
            events += i;
        }
        kbuffer_free(kb);
        tep_free(tep);
    }
    EXPECT_GT(pages, 90u);
    EXPECT_GT(events, 2500u);
    EXPECT_GT(missed_pages, 0u); // the lossy fixture has pages after overruns
}

// A sub-buffer that follows lost events: its lost record (decoded, or alone
// for -w) ends where the sub-buffer begins, at its first event.
TEST(Decoder, ALostRecordEndsAtTheFirstEventAfterItsGap) {
    const Recording r =
        load_recording(std::string(MQTRACE_SOURCE_ROOT) + "/tests/fixtures/linux-6.1-kprobe-lossy");
    std::vector<EventFormat> fmts;
    for (std::size_t i = 0; i < r.probes.size(); ++i)
        fmts.push_back(
            EventFormat{static_cast<int>(i), r.probes[i].system, r.formats[i], r.probes[i].fields});
    const Decoder dec(r.header_page, fmts);
    const SubbufLayout l = parse_header_page(r.header_page);
    std::size_t flagged = 0;
    for (const auto& p : r.pages) {
        Subbuf sb;
        ASSERT_TRUE(
            walk_subbuffer(reinterpret_cast<const unsigned char*>(p.bytes.data()), p.bytes.size(), l, sb));
        RecordBuffer decoded, alone;
        dec.decode_page(p.cpu, p.bytes.data(), p.bytes.size(), decoded);
        dec.page_losses(p.cpu, p.bytes.data(), p.bytes.size(), alone);
        if (sb.missed == 0 || sb.events.empty()) continue;
        ++flagged;
        ASSERT_GE(decoded.size(), 1u);
        ASSERT_EQ(alone.size(), 1u);
        for (const Record* lost : {&decoded[0], &alone[0]}) {
            EXPECT_EQ(lost->kind, RecordKind::Lost);
            EXPECT_EQ(lost->until, sb.events.front().ts);
        }
        for (std::size_t i = 1; i < decoded.size(); ++i)
            EXPECT_EQ(decoded[i].until, 0u) << "an event's";
    }
    EXPECT_GT(flagged, 0u);
}

// Lengths that kbuffer trusts (it looped for ever on a zero-length event, found
// by fuzz-decoder): the walker stops at the first event that does not fit.
TEST(Subbuf, HostileLengthsEndTheWalk) {
    const SubbufLayout l;
    auto page = [](std::uint64_t commit, std::vector<std::uint32_t> words) {
        std::string p(16, '\0');
        const std::uint64_t ts = 1000;
        std::memcpy(p.data(), &ts, 8);
        std::memcpy(p.data() + 8, &commit, 8);
        for (auto w : words)
            p.append(reinterpret_cast<const char*>(&w), 4);
        return p;
    };
    Subbuf sb;
    auto walk = [&](const std::string& p) {
        return walk_subbuffer(reinterpret_cast<const unsigned char*>(p.data()), p.size(), l, sb);
    };
    // A good event (type_len 2: 8 bytes of data, delta 5), then one whose array[0] is 0.
    std::string p = page(24, {2u | (5u << 5), 7, 8, 0u | (1u << 5), 0, 0});
    ASSERT_TRUE(walk(p));
    ASSERT_EQ(sb.events.size(), 1u);
    EXPECT_EQ(sb.events[0].ts, 1005u);
    EXPECT_EQ(sb.events[0].offset, 20u);
    EXPECT_EQ(sb.events[0].size, 8u);
    EXPECT_TRUE(sb.damaged);
    // An event longer than the page's data.
    ASSERT_TRUE(walk(page(12, {0u, 4000, 1})));
    EXPECT_TRUE(sb.events.empty());
    EXPECT_TRUE(sb.damaged);
    // A commit size beyond what was read: walked as far as the bytes go, marked damaged.
    ASSERT_TRUE(walk(page(4000, {1u, 42})));
    EXPECT_EQ(sb.events.size(), 1u);
    EXPECT_TRUE(sb.damaged);
    // Missed events, count stored after the data; and not stored (unknown).
    std::string m = page(8 | (1ull << 31) | (1ull << 30), {1u, 42});
    const std::uint64_t n = 77;
    m.append(reinterpret_cast<const char*>(&n), 8);
    ASSERT_TRUE(walk(m));
    EXPECT_EQ(sb.missed, 77);
    ASSERT_TRUE(walk(page(8 | (1ull << 31), {1u, 42})));
    EXPECT_EQ(sb.missed, -1);
    // A header cut short.
    EXPECT_FALSE(walk(std::string(10, '\0')));
    // Time extend: delta 3 + (2 << 27).
    ASSERT_TRUE(walk(page(16, {30u | (3u << 5), 2, 1u, 9})));
    ASSERT_EQ(sb.events.size(), 1u);
    EXPECT_EQ(sb.events[0].ts, 1000u + 3u + (2ull << 27));
}
