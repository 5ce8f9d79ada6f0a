// -r FILE on hostile bytes: parse the recording, replay it through decoder,
// merger and correlator, format every item as JSON and text. A damaged
// recording may be refused (std::runtime_error), never crash or print a bad line.
#include "check.hpp"
#include "mqtrace/recording.hpp"
#include "mqtrace/replay.hpp"

#include <cstdint>
#include <stdexcept>

using namespace mqtrace;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Recording r;
    try {
        r = parse_recording(std::string(reinterpret_cast<const char*>(data), size));
    } catch (const std::runtime_error&) {
        return 0;
    }
    FormatOptions json, text;
    json.format = OutputFormat::Json;
    text.utc = true;
    std::string line;
    try {
        replay(r, [&](Item&& it) {
            line.clear();
            append_item(it, json, line);
            fuzzcheck::json_line(line);
            line.clear();
            append_item(it, text, line);
            fuzzcheck::text_line(line);
        });
    } catch (const std::runtime_error&) {
    }
    return 0;
}
