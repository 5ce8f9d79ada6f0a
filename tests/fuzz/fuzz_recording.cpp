// -r FILE on hostile bytes: parse the recording, replay it through decoder,
// merger and correlator, format every item as JSON and text. A damaged
// recording may be refused (std::runtime_error), never crash or print a bad
// line. Read as -r reads it (RecordingStream, one round at a time, from a
// file), it gives the same lines as read whole, or, damaged, the lines of
// its rounds before the damage and then the error.
#include "check.hpp"
#include "mqtrace/recording.hpp"
#include "mqtrace/replay.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

using namespace mqtrace;

namespace {

std::vector<std::string> streamed(const std::uint8_t* data, std::size_t size, bool& failed) {
    std::vector<std::string> out;
    const int fd = ::memfd_create("fuzz-recording", MFD_CLOEXEC);
    if (fd < 0 || ::write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
    FormatOptions json;
    json.format = OutputFormat::Json;
    failed = false;
    try {
        RecordingStream s("/proc/self/fd/" + std::to_string(fd));
        Replayer rp(s.head(), [&](Item&& it) {
            std::string line;
            append_item(it, json, line);
            out.push_back(std::move(line));
        });
        for (Recording part; s.next(part);)
            rp.feed(part);
        rp.finish();
    } catch (const std::runtime_error&) {
        failed = true;
    }
    ::close(fd);
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    bool stream_failed = false;
    const std::vector<std::string> stream = streamed(data, size, stream_failed);
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
    std::vector<std::string> whole;
    bool failed = false;
    try {
        replay(r, [&](Item&& it) {
            line.clear();
            append_item(it, json, line);
            fuzzcheck::json_line(line);
            whole.push_back(line);
            line.clear();
            append_item(it, text, line);
            fuzzcheck::text_line(line);
        });
    } catch (const std::runtime_error&) {
        failed = true;
    }
    // A file that reads whole reads the same round by round.
    if (!failed && (stream_failed || stream != whole)) std::abort();
    return 0;
}
