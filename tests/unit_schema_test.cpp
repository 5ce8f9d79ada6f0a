// The JSON Schema (mqtrace --json-schema) is generated from the catalog and
// agrees with what the formatters write: one subschema per event with
// exactly its arguments and struct members, the lines' members all known to
// it, and its closed sets (end, source, tags) those the lines use.
// tests/schema-test validates real output against it with a real validator.
#include "json.hpp"
#include "mqtrace/catalog.hpp"
#include "mqtrace/format.hpp"
#include "mqtrace/schema.hpp"
#include "mqtrace/summary.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <set>
#include <string>
#include <vector>

using namespace mqtrace;
using testjson::Value;

namespace {

const Value& schema() {
    static const Value v = testjson::parse(json_schema());
    return v;
}

const Value& def(const std::string& name) { return schema()["$defs"][name]; }

// {"$ref": "#/$defs/NAME"} -> that definition; anything else (also a
// schema with its own properties beside a $ref) as it is.
const Value& deref(const Value& v) {
    if (!v.has("$ref") || v.has("properties")) return v;
    const std::string r = v["$ref"].s();
    EXPECT_EQ(r.rfind("#/$defs/", 0), 0u) << r;
    return def(r.substr(8));
}

std::vector<std::string> strings(const Value& array) {
    std::vector<std::string> out;
    for (const auto& i : array.items)
        out.push_back(i.s());
    return out;
}

std::set<std::string> keys(const Value& object) {
    std::set<std::string> out;
    for (const auto& [k, v] : object.fields)
        out.insert(k);
    return out;
}

std::set<std::string> set_of(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

bool has_content(const ArgSpec& a) {
    return a.decode == Decode::Name || (a.decode == Decode::Struct && a.layout);
}

// A call of ev with every argument known; names and structs read from
// memory with source src.
Call full_call(const EventSpec& ev, Source src) {
    Call c;
    c.ev = event_index(ev);
    c.ts = 1000000000;
    c.ts_end = 1000012000;
    c.cpu = 1;
    c.pid = 42;
    c.tid = 43;
    c.comm = "app";
    c.end = CallEnd::Returned;
    c.ret = -ENOENT;
    c.args.resize(ev.args.size());
    for (std::size_t i = 0; i < ev.args.size(); ++i) {
        ArgValue& a = c.args[i];
        a.present = true;
        a.raw = 0x7ffd0000 + static_cast<std::int64_t>(i);
        if (ev.args[i].decode == Decode::Name) {
            a.content = Content::Str;
            a.str = "q\xff"; // not UTF-8: "hex" too
            a.src = src;
            a.lossy = true;
        } else if (has_content(ev.args[i])) {
            a.content = Content::Struct;
            a.members.resize(ev.args[i].layout->members.size());
            a.src = src;
        }
    }
    return c;
}

FormatOptions json(TimeMode t) {
    FormatOptions o;
    o.format = OutputFormat::Json;
    o.clock_offset_ns = 1700000000000000000;
    o.time = t;
    o.utc = true;
    return o;
}

Value line(const Item& it, const FormatOptions& o) {
    const std::string l = format_item(it, o);
    const std::string name = it.is_call ? std::string(catalog()[it.call.ev].name) : "lost";
    EXPECT_EQ(l.rfind("{\"event\":\"" + name + "\",\"schema\":" + std::to_string(kSchemaVersion) + ",", 0),
              0u)
        << l;
    return testjson::parse(l);
}

// Every member of the line is one the object's schema knows, every required one is there.
void members_known(const Value& line, const Value& object_schema, const std::string& what) {
    const Value& s = deref(object_schema);
    const std::set<std::string> known = keys(s["properties"]);
    for (const auto& k : keys(line))
        EXPECT_TRUE(known.count(k)) << what << ": member " << k << " not in the schema";
    if (s.has("required")) {
        for (const auto& r : strings(s["required"]))
            EXPECT_TRUE(line.has(r)) << what << ": required member " << r << " missing";
    }
    EXPECT_EQ(s["additionalProperties"].type, Value::Bool) << what;
    EXPECT_FALSE(s["additionalProperties"].b) << what << ": additionalProperties";
}

} // namespace

TEST(Schema, TheVersionIsOneConstant) {
    const std::string v = std::to_string(kSchemaVersion);
    EXPECT_EQ(std::string_view(kCallAfterName), "\",\"schema\":" + v + ",\"time_ns\":");
    EXPECT_EQ(std::string_view(kLostStart), "{\"event\":\"lost\",\"schema\":" + v + ",\"time_ns\":");
    EXPECT_EQ(std::string_view(kSummaryStart), "{\"event\":\"summary\",\"schema\":" + v + ",\"events\":");
    EXPECT_EQ(schema()["$schema"].s(), "https://json-schema.org/draft/2020-12/schema");
    EXPECT_EQ(schema()["properties"]["schema"]["const"].i(), kSchemaVersion);
    EXPECT_EQ(json_schema().back(), '\n');
}

TEST(Schema, OneSubschemaPerEventWithExactlyItsArguments) {
    std::vector<std::string> names;
    for (const auto& ev : catalog())
        names.emplace_back(ev.name);
    std::vector<std::string> all = names;
    all.insert(all.end(), {"lost", "summary"});
    EXPECT_EQ(strings(schema()["properties"]["event"]["enum"]), all);
    ASSERT_EQ(schema()["allOf"].items.size(), all.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
        const Value& d = schema()["allOf"].items[i];
        EXPECT_EQ(d["if"]["properties"]["event"]["const"].s(), all[i]);
        EXPECT_EQ(deref(d["then"])["properties"]["event"]["const"].s(), all[i]);
    }
    EXPECT_EQ(keys(def("summary_events")["properties"]), set_of(names));
    for (const auto& ev : catalog()) {
        const std::string name(ev.name);
        const Value& call = def("call_" + name);
        EXPECT_EQ(call["properties"]["schema"]["const"].i(), kSchemaVersion) << name;
        const Value& args = call["properties"]["args"];
        std::vector<std::string> arg_names;
        std::set<std::string> read;
        for (const auto& a : ev.args) {
            arg_names.emplace_back(a.name);
            if (has_content(a)) read.emplace(a.name);
        }
        EXPECT_EQ(strings(args["required"]), arg_names) << name;
        EXPECT_EQ(keys(args["properties"]), set_of(arg_names)) << name;
        EXPECT_FALSE(args["additionalProperties"].b) << name;
        EXPECT_EQ(keys(call["properties"]["arg_info"]["properties"]), read) << name;
        if (read.empty())
            EXPECT_FALSE(call["properties"].has("late")) << name;
        else
            EXPECT_EQ(keys(call["properties"]["late"]["properties"]), read) << name;
        for (const auto& a : ev.args) {
            if (!a.layout) continue;
            // The struct's definition: exactly its members, all required.
            const Value* layout = nullptr;
            for (const auto& alt : args["properties"][std::string(a.name)]["anyOf"].items)
                if (alt.has("$ref") && alt["$ref"].s().find("struct_") != std::string::npos)
                    layout = &deref(alt);
            ASSERT_NE(layout, nullptr) << name << "." << a.name;
            std::vector<std::string> members;
            for (const auto& m : a.layout->members)
                members.emplace_back(m.name);
            EXPECT_EQ(strings((*layout)["required"]), members) << name << "." << a.name;
            EXPECT_EQ(keys((*layout)["properties"]), set_of(members)) << name << "." << a.name;
        }
    }
}

TEST(Schema, LinesHoldOnlyMembersTheSchemaKnows) {
    for (const auto& ev : catalog()) {
        const std::string name(ev.name);
        const Value& call = def("call_" + name);
        for (TimeMode t : {TimeMode::Wall, TimeMode::Relative, TimeMode::Iso})
            for (Source src : {Source::UserAtEntry, Source::UserLate, Source::KernelCopy}) {
                Call c = full_call(ev, src);
                if (src == Source::KernelCopy) // checked against the caller's: a mismatch, in hostile bytes
                    for (std::size_t i = 0; i < ev.args.size(); ++i) {
                        ArgValue& a = c.args[i];
                        if (a.content == Content::None || !kernel_copied(ev, ev.args[i].name)) continue;
                        auto caller = std::make_shared<ArgValue>(a);
                        caller->src = Source::UserAtEntry;
                        caller->str = "\xff\x01";
                        a.verify = Verify::Mismatch;
                        a.caller = std::move(caller);
                    }
                const Value l = line(Item{true, c, {}}, json(t));
                if (src == Source::KernelCopy && name == "mq_open") {
                    EXPECT_EQ(l["arg_info"]["name"]["toctou"].s(), "mismatch");
                    EXPECT_EQ(l["arg_info"]["name"]["caller_hex"].s(), "ff01");
                    EXPECT_TRUE(l["arg_info"]["attr"]["caller"].has("mq_maxmsg"));
                }
                members_known(l, call, name);
                members_known(l["args"], call["properties"]["args"], name + " args");
                if (l.has("late")) members_known(l["late"], call["properties"]["late"], name + " late");
                for (const auto& [arg, info] : l["arg_info"].fields)
                    members_known(info, call["properties"]["arg_info"]["properties"][arg], name + " " + arg);
                for (const auto& [arg, v] : l["args"].fields)
                    if (v.type == Value::Object) {
                        for (const auto& alt : call["properties"]["args"]["properties"][arg]["anyOf"].items)
                            if (alt.has("$ref") && alt["$ref"].s().find("struct_") != std::string::npos)
                                members_known(v, alt, name + " " + arg);
                    }
            }
    }
    Item lost;
    lost.is_call = false;
    lost.lost = LostNotice{2000000000, -1, -1, "kprobe misses: msgrcv_ret"};
    for (TimeMode t : {TimeMode::Wall, TimeMode::Relative, TimeMode::Iso})
        members_known(line(lost, json(t)), def("lost"), "lost");

    std::vector<int> all;
    for (const auto& ev : catalog())
        all.push_back(event_index(ev));
    Summary s(all, true);
    for (const auto& ev : catalog())
        s.add(Item{true, full_call(ev, Source::UserAtEntry), {}});
    s.add(lost);
    const std::string text = s.json();
    EXPECT_EQ(text.rfind(std::string(kSummaryStart), 0), 0u) << text;
    const Value sum = testjson::parse(text);
    members_known(sum, def("summary"), "summary");
    for (const auto& [ev, stats] : sum["events"].fields) {
        members_known(stats, def("summary_stats"), "summary " + ev);
        members_known(stats["latency_ns"], def("summary_stats")["properties"]["latency_ns"], "latency " + ev);
    }
    ASSERT_EQ(sum["processes"].items.size(), 1u);
    members_known(sum["processes"].items[0], def("summary")["properties"]["processes"]["items"], "process");
}

TEST(Schema, ClosedSetsAreThoseTheLinesUse) {
    // "end": every way a call ends, and nothing else.
    std::set<std::string> ends;
    const EventSpec& ev = *find_event("mq_unlink");
    for (CallEnd e : {CallEnd::Returned, CallEnd::ThreadExited, CallEnd::NoReturnSeen, CallEnd::TraceEnded,
                      CallEnd::EntryNotSeen}) {
        Call c = full_call(ev, Source::UserAtEntry);
        c.end = e;
        ends.insert(line(Item{true, c, {}}, json(TimeMode::Wall))["end"].s());
    }
    EXPECT_EQ(set_of(strings(def("end")["enum"])), ends);
    // "source" and "tags": the tags of each source, with and without OPT, as the lines have them.
    std::set<std::string> sources;
    for (Source src :
         {Source::Register, Source::KernelCopy, Source::UserAtEntry, Source::UserLate, Source::UserStack}) {
        sources.insert(source_name(src));
        const EventSpec& open = *find_event("mq_open"); // name: no OPT; attr: OPT
        Call c = full_call(open, src);
        const Value l = line(Item{true, c, {}}, json(TimeMode::Wall));
        for (const char* arg : {"name", "attr"}) {
            const Value& info = l["arg_info"][arg];
            EXPECT_EQ(info["source"].s(), source_name(src));
            const bool opt = open.args[static_cast<std::size_t>(arg_index(open, arg))].tags & kTagOPT;
            const Value& by_source = def(opt ? "tags_by_source_opt" : "tags_by_source");
            int matches = 0;
            for (const auto& alt : by_source["anyOf"].items)
                if (alt["properties"]["source"]["const"].s() == source_name(src)) {
                    ++matches;
                    EXPECT_EQ(testjson::dump(alt["properties"]["tags"]["const"]),
                              testjson::dump(info["tags"]))
                        << arg << " " << source_name(src);
                }
            EXPECT_EQ(matches, 1) << arg << " " << source_name(src);
            for (const auto& t : info["tags"].items)
                EXPECT_TRUE(set_of(strings(def("tag")["enum"])).count(t.s())) << t.s();
        }
    }
    EXPECT_EQ(set_of(strings(def("source")["enum"])), sources);
}
