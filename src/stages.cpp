// The stages after the merge, chunk by chunk. See include/mqtrace/stages.hpp.
#include "mqtrace/stages.hpp"

#include <algorithm>

namespace mqtrace {

void CallStages::run(std::span<Record* const> ready, MemoryReader& mem, std::vector<Item>& items,
                     const std::function<void(std::vector<Item>&)>& done, std::size_t chunk) const {
    const bool lossy =
        std::any_of(ready.begin(), ready.end(), [](const Record* r) { return r->kind == RecordKind::Lost; });
    if (lossy || chunk == 0) chunk = ready.size();
    std::size_t k = 0;
    do {
        const bool first = k == 0;
        const std::size_t end = std::min(ready.size(), k + chunk);
        for (; k < end; ++k)
            correlator.feed(*ready[k], items);
        outputs.fill(items, mem);       // outputs no probe read at return
        context.annotate(items, first); // /proc's namespaces asked again each round
        if (flows) flows->annotate(items, correlator, context);
        done(items);
        items.clear(); // done recycles them (Correlator::recycle); the next chunk starts empty
    } while (k < ready.size());
}

} // namespace mqtrace
