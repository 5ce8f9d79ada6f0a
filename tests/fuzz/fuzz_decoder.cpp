// Ring-buffer sub-buffers on hostile bytes: decode one (with the event formats
// of a real Debian 6.1 recording), correlate its records and format them.
// The first input byte picks the CPU and whether in-band losses are reported.
#include "check.hpp"
#include "mqtrace/correlator.hpp"
#include "mqtrace/decoder.hpp"
#include "mqtrace/reader.hpp"
#include "mqtrace/recording.hpp"
#include "mqtrace/tasks.hpp"

#include <cstdint>
#include <memory>

using namespace mqtrace;

namespace {

struct Fixture {
    Recording rec = load_recording(std::string(MQTRACE_SOURCE_ROOT) + "/tests/fixtures/linux-6.1-kprobe-all");
    std::unique_ptr<Decoder> dec;
    Fixture() {
        std::vector<EventFormat> fmts;
        for (std::size_t i = 0; i < rec.probes.size(); ++i)
            fmts.push_back(
                EventFormat{static_cast<int>(i), rec.probes[i].system, rec.formats[i], rec.probes[i].fields});
        dec = std::make_unique<Decoder>(rec.header_page, fmts);
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const Fixture f;
    if (size < 1) return 0;
    const int cpu = data[0] & 7;
    Merger m;
    f.dec->decode_page(cpu, data + 1, size - 1, m.queue(cpu), data[0] & 8);
    f.dec->page_losses(cpu, data + 1, size - 1, m.queue(cpu));
    m.added();
    std::vector<Record*> ordered;
    m.release_all(ordered);
    TaskTable tasks(false);
    Correlator c(f.rec.probes, tasks);
    std::vector<Item> items;
    for (const Record* r : ordered)
        c.feed(*r, items);
    c.finish(items);
    FormatOptions json, text;
    json.format = OutputFormat::Json;
    text.utc = true;
    for (const auto& it : items) {
        fuzzcheck::json_line(format_item(it, json));
        fuzzcheck::text_line(format_item(it, text));
    }
    return 0;
}
