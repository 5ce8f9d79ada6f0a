// Recordings: what a run read from the kernel (header_page, event formats, the
// probe table and every raw sub-buffer), saved with --record DIR so that the
// decoder and correlator can be replayed on it anywhere (tests/fixtures, bug
// reports).
#pragma once

#include "mqtrace/decoder.hpp"
#include "mqtrace/plan.hpp"

#include <string>
#include <vector>

namespace mqtrace {

struct RawPage {
    int cpu;
    std::string bytes;
};

struct Recording {
    std::string header_page;
    std::vector<Probe> probes;        // the table Record::probe indexes
    std::vector<std::string> formats; // parallel to probes
    std::vector<RawPage> pages;       // in the order they were read
};

void save_recording_meta(const std::string& dir, const std::string& header_page,
                         const std::vector<Probe>& probes, const std::vector<std::string>& formats);
void append_recording_pages(const std::string& dir, const std::vector<RawPage>& pages);
Recording load_recording(const std::string& dir); // throws std::runtime_error

} // namespace mqtrace
