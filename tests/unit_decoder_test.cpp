// Decoding real ring-buffer pages recorded from Debian's 6.1 kernel in the VM
// (scripts/vm/capture-fixtures): replaying them through the decoder, merger and
// correlator must give exactly the JSON lines mqtrace printed live.
#include "json.hpp"
#include "mqtrace/correlator.hpp"
#include "mqtrace/decoder.hpp"
#include "mqtrace/format.hpp"
#include "mqtrace/reader.hpp"
#include "mqtrace/recording.hpp"
#include "mqtrace/tasks.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

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
// (its own canary calls, made by the thread whose tid is in the group name, left out).
std::vector<std::string> replay(const Recording& r, std::int64_t* first_ts = nullptr) {
    auto dec = decoder_for(r);
    std::vector<Record> recs;
    for (const auto& p : r.pages)
        dec->decode_page(p.cpu, p.bytes.data(), p.bytes.size(), recs);
    Merger m;
    m.push(std::move(recs));
    std::vector<Record> ordered;
    m.release_all(ordered);
    TaskTable tasks(false);
    Correlator c(r.probes, tasks);
    std::vector<Item> items;
    for (const auto& rec : ordered)
        c.feed(rec, items);
    int self = -1;
    for (const auto& p : r.probes)
        if (p.system.rfind("mqtrace_", 0) == 0) self = std::stoi(p.system.substr(8));
    FormatOptions o;
    o.format = OutputFormat::Json;
    std::vector<std::string> out;
    for (const auto& it : items) {
        if (it.is_call && it.call.tid == self) continue;
        if (first_ts && out.empty())
            *first_ts = static_cast<std::int64_t>(it.is_call ? it.call.ts : it.lost.ts);
        out.push_back(format_item(it, o));
    }
    return out;
}

std::vector<std::string> lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);)
        out.push_back(l);
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

} // namespace

TEST(Decoder, ReplayOfEveryEventOn61MatchesWhatWasPrinted) {
    Recording r = load_recording(kFixtures + "linux-6.1-kprobe-all");
    ASSERT_FALSE(r.pages.empty());
    const auto want = lines(kFixtures + "linux-6.1-kprobe-all/expected.json");
    ASSERT_EQ(want.size(), 40u); // mqworkload all, through libc and through syscall(2)
    expect_same(replay(r), want);
}

TEST(Decoder, PagesWithMissedEventsBecomeLostRecords) {
    Recording r = load_recording(kFixtures + "linux-6.1-kprobe-lossy");
    const auto got = replay(r);
    const auto want = lines(kFixtures + "linux-6.1-kprobe-lossy/expected.json");
    expect_same(got, want);
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

TEST(Decoder, ReadsTheSubBufferSizeFromHeaderPage) {
    Recording r = load_recording(kFixtures + "linux-6.1-kprobe-all");
    EXPECT_EQ(decoder_for(r)->page_size(), 4096);
}

TEST(Decoder, TruncatedOrForeignPagesAreSkippedSafely) {
    Recording r = load_recording(kFixtures + "linux-6.1-kprobe-all");
    auto dec = decoder_for(r);
    std::vector<Record> out;
    dec->decode_page(0, "short", 5, out);
    EXPECT_TRUE(out.empty());
    std::string zero(4096, '\0');
    dec->decode_page(0, zero.data(), zero.size(), out);
    EXPECT_TRUE(out.empty());
    // A real page cut short: only whole records inside the cut come out, and no
    // string is read past the end.
    const RawPage& p = r.pages.front();
    std::vector<Record> full, cut;
    dec->decode_page(p.cpu, p.bytes.data(), p.bytes.size(), full);
    dec->decode_page(p.cpu, p.bytes.data(), 200, cut);
    EXPECT_LE(cut.size(), full.size());
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
        std::vector<Record> recs;
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
    std::vector<Record> out;
    m.release(25, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].ts, 10u);
    EXPECT_EQ(out[1].ts, 20u);
    EXPECT_EQ(m.pending(), 2u);
    m.push({rec(35, 0)});
    m.release_all(out);
    ASSERT_EQ(out.size(), 5u);
    EXPECT_EQ(out[2].ts, 30u);
    EXPECT_EQ(out[3].ts, 35u);
    EXPECT_EQ(out[4].ts, 40u);
}

TEST(Stats, ParsesPerCpuStats) {
    const std::string st = "entries: 0\noverrun: 39780\ncommit overrun: 3\nbytes: 0\ndropped events: 12\n";
    EXPECT_EQ(stat_value(st, "overrun"), 39780u);
    EXPECT_EQ(stat_value(st, "commit overrun"), 3u);
    EXPECT_EQ(stat_value(st, "dropped events"), 12u);
    EXPECT_EQ(stat_value(st, "read events"), 0u);
}
