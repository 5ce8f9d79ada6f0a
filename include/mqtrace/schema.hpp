// The JSON Schema of the -f json lines (calls, lost records, the summary),
// generated from the event catalog, and the schema version every line
// carries right after "event" ("schema":N). mqtrace(8), JSON SCHEMA, says
// what may change within one version and what raises it. Pure.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mqtrace {

// The one definition of the schema version: the lines' "schema" member and
// the generated schema's "const" both come from it.
inline constexpr int kSchemaVersion = 1;

// A JSON text with the schema version in it, made at compile time (the
// formatters write it with one copy).
struct SchemaLiteral {
    char text[64] = {};
    std::size_t size = 0;
    constexpr operator std::string_view() const { return {text, size}; }
};

// before + kSchemaVersion in decimal + after.
constexpr SchemaLiteral schema_literal(std::string_view before, std::string_view after) {
    SchemaLiteral l;
    for (char c : before)
        l.text[l.size++] = c;
    char digits[12] = {};
    std::size_t n = 0;
    for (int v = kSchemaVersion; n == 0 || v > 0; v /= 10)
        digits[n++] = static_cast<char>('0' + v % 10);
    while (n > 0)
        l.text[l.size++] = digits[--n];
    for (char c : after)
        l.text[l.size++] = c;
    return l;
}

// What follows the event's name in a call's line: `","schema":N,"time_ns":`.
inline constexpr SchemaLiteral kCallAfterName = schema_literal("\",\"schema\":", ",\"time_ns\":");
// The start of a lost record's line: `{"event":"lost","schema":N,"time_ns":`.
inline constexpr SchemaLiteral kLostStart =
    schema_literal("{\"event\":\"lost\",\"schema\":", ",\"time_ns\":");
// The start of the summary's line: `{"event":"summary","schema":N,"events":`.
inline constexpr SchemaLiteral kSummaryStart =
    schema_literal("{\"event\":\"summary\",\"schema\":", ",\"events\":");

// The JSON Schema (draft 2020-12) every -f json line validates against, as
// indented JSON text ending in a newline (mqtrace --json-schema; installed
// as DATADIR/mqtrace/mqtrace.schema.json): one subschema per event of the
// catalog with exactly its arguments (struct members, tags, sources), the
// lost record and the summary.
std::string json_schema();

} // namespace mqtrace
