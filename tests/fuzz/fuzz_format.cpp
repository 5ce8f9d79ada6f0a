// The formatters on hostile values: names, comm and reasons of any bytes, any
// numbers, any source. Every JSON line must be valid JSON in valid UTF-8 whose
// strings give back the exact bytes (escapes, and "hex" for invalid UTF-8);
// every text line must be free of raw control, DEL, C1 and high bytes.
#include "check.hpp"
#include "mqtrace/catalog.hpp"
#include "mqtrace/correlator.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>
#include <vector>

using namespace mqtrace;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    Item it;
    Call& c = it.call;
    c.ev = in.ConsumeIntegralInRange<int>(0, static_cast<int>(catalog().size()) - 1);
    const EventSpec& ev = catalog()[c.ev];
    c.ts = in.ConsumeIntegral<std::uint64_t>();
    c.ts_end = c.ts + in.ConsumeIntegral<std::uint32_t>();
    c.cpu = in.ConsumeIntegral<int>();
    c.pid = in.ConsumeIntegral<int>();
    c.tid = in.ConsumeIntegral<int>();
    c.comm = in.ConsumeRandomLengthString(64);
    c.end = in.PickValueInArray({CallEnd::Returned, CallEnd::ThreadExited, CallEnd::NoReturnSeen,
                                 CallEnd::TraceEnded, CallEnd::EntryNotSeen});
    c.ret = in.ConsumeIntegral<std::int64_t>();
    c.args.resize(ev.args.size());
    std::vector<std::string> reasons(
        ev.args.size()); // what the reasons point to (a MemoryReader keeps them live)
    for (std::size_t i = 0; i < ev.args.size(); ++i) {
        ArgValue& a = c.args[i];
        a.present = in.ConsumeBool();
        a.raw = in.ConsumeIntegral<std::int64_t>();
        a.src = in.PickValueInArray(
            {Source::Register, Source::KernelCopy, Source::UserAtEntry, Source::UserLate, Source::UserStack});
        a.suspect_fault = in.ConsumeBool();
        switch (in.ConsumeIntegralInRange<int>(0, 3)) {
        case 1:
            a.content = Content::Str;
            a.str = in.ConsumeRandomLengthString(300);
            break;
        case 2:
            if (!ev.args[i].layout) break;
            a.content = Content::Struct;
            for (std::size_t m = 0; m < ev.args[i].layout->members.size(); ++m)
                a.members.push_back(in.ConsumeIntegral<std::int64_t>());
            break;
        case 3:
            a.content = Content::Unreadable;
            a.why = reasons[i] = in.ConsumeRandomLengthString(100);
            break;
        default: break;
        }
    }
    FormatOptions json, text;
    json.format = OutputFormat::Json;
    text.utc = true;
    const std::string j = format_item(it, json);
    fuzzcheck::json_line(j);
    fuzzcheck::text_line(format_item(it, text));
    // Byte-exact: comm, and every string argument shown (in "args" or "late").
    const testjson::Value v = testjson::parse(j);
    if (!c.comm.empty() && v["comm"].s() != c.comm) fuzzcheck::fail("comm does not round-trip", j);
    for (std::size_t i = 0; i < ev.args.size(); ++i) {
        const ArgValue& a = c.args[i];
        if (a.content != Content::Str) continue;
        const std::string name(ev.args[i].name);
        const testjson::Value& where = a.src == Source::UserLate ? v["late"] : v["args"];
        if (where[name].s() != a.str) fuzzcheck::fail("string does not round-trip", j);
        const testjson::Value& info = v["arg_info"][name];
        if (!valid_utf8(a.str) && info["hex"].s() != testjson::hex(a.str))
            fuzzcheck::fail("hex does not match", j);
    }
    return 0;
}
