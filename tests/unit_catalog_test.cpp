// The event catalog: ten events, argument names as in the syscall prototypes,
// tags, struct layouts, and probe points that only name existing arguments.
#include "mqtrace/catalog.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace mqtrace;

namespace {

std::vector<std::string> arg_names(const EventSpec& ev) {
    std::vector<std::string> out;
    for (const auto& a : ev.args)
        out.emplace_back(a.name);
    return out;
}

} // namespace

TEST(Catalog, TenEventsInOrder) {
    std::vector<std::string> names;
    for (const auto& ev : catalog())
        names.emplace_back(ev.name);
    EXPECT_EQ(names, (std::vector<std::string>{"mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
                                               "mq_notify", "mq_getsetattr", "msgget", "msgsnd", "msgrcv",
                                               "msgctl"}));
}

TEST(Catalog, ArgumentNamesFollowThePrototypes) {
    auto args = [](const char* ev) { return arg_names(*find_event(ev)); };
    using V = std::vector<std::string>;
    EXPECT_EQ(args("mq_open"), (V{"name", "oflag", "mode", "attr"}));
    EXPECT_EQ(args("mq_unlink"), (V{"name"}));
    EXPECT_EQ(args("mq_timedsend"), (V{"mqdes", "msg_ptr", "msg_len", "msg_prio", "abs_timeout"}));
    EXPECT_EQ(args("mq_timedreceive"), (V{"mqdes", "msg_ptr", "msg_len", "msg_prio", "abs_timeout"}));
    EXPECT_EQ(args("mq_notify"), (V{"mqdes", "sevp"}));
    EXPECT_EQ(args("mq_getsetattr"), (V{"mqdes", "newattr", "oldattr"}));
    EXPECT_EQ(args("msgget"), (V{"key", "msgflg"}));
    EXPECT_EQ(args("msgsnd"), (V{"msqid", "msgp", "msgsz", "msgflg"}));
    EXPECT_EQ(args("msgrcv"), (V{"msqid", "msgp", "msgsz", "msgtyp", "msgflg"}));
    EXPECT_EQ(args("msgctl"), (V{"msqid", "cmd", "buf"}));
    for (const auto& ev : catalog())
        for (const auto& a : ev.args) {
            EXPECT_FALSE(a.ctype.empty()) << ev.name << "." << a.name;
            EXPECT_FALSE(a.doc.empty()) << ev.name << "." << a.name;
        }
}

TEST(Catalog, UserPointersAreTaggedToctouAndOptionalOnesOpt) {
    const EventSpec& open = *find_event("mq_open");
    EXPECT_EQ(open.args[0].tags, unsigned(kTagU | kTagTOCTOU));
    EXPECT_EQ(open.args[1].tags, 0u);
    EXPECT_EQ(open.args[3].tags, unsigned(kTagU | kTagTOCTOU | kTagOPT));
    EXPECT_EQ(find_event("mq_notify")->args[1].tags, unsigned(kTagU | kTagTOCTOU | kTagOPT));
    EXPECT_EQ(find_event("msgsnd")->args[1].tags, unsigned(kTagU | kTagTOCTOU));
    EXPECT_EQ(find_event("msgget")->args[0].tags, 0u);
    for (const auto& ev : catalog())
        for (const auto& a : ev.args) {
            const bool pointer = a.ctype.find('*') != std::string_view::npos;
            EXPECT_EQ(pointer, (a.tags & kTagU) != 0) << ev.name << "." << a.name;
            EXPECT_EQ(a.decode == Decode::Struct, a.layout != nullptr) << ev.name << "." << a.name;
        }
}

TEST(Catalog, StructLayoutsAreLp64) {
    const StructLayout* attr = find_event("mq_open")->args[3].layout;
    ASSERT_NE(attr, nullptr);
    EXPECT_EQ(attr->ctype, "struct mq_attr");
    ASSERT_EQ(attr->members.size(), 4u);
    EXPECT_EQ(attr->members[2].name, "mq_msgsize");
    EXPECT_EQ(attr->members[2].offset, 16);
    const StructLayout* sev = find_event("mq_notify")->args[1].layout;
    EXPECT_EQ(sev->members[1].name, "sigev_signo");
    EXPECT_EQ(sev->members[1].offset, 8);
    EXPECT_EQ(sev->members[2].offset, 12);
    EXPECT_EQ(struct_layout("struct timespec")->size, 16);
}

// Boundary points see every call and fetch every argument; inner points only
// add kernel copies, and never come first.
TEST(Catalog, ProbePointsNameExistingArguments) {
    for (const auto& ev : catalog()) {
        ASSERT_FALSE(ev.kprobe_points.empty()) << ev.name;
        EXPECT_EQ(ev.kprobe_points.front().reach, Reach::Boundary) << ev.name;
        for (const auto& pt : ev.kprobe_points) {
            std::vector<std::string> seen;
            for (const auto& f : pt.fetch) {
                EXPECT_GE(arg_index(ev, f.arg), 0) << pt.symbol << " " << f.arg;
                EXPECT_GE(f.pos, 1);
                EXPECT_LE(f.pos, 6);
                seen.emplace_back(f.arg);
                if (pt.reach == Reach::Inner) {
                    EXPECT_TRUE(f.load == Load::KernelStruct || f.load == Load::KernelMtype ||
                                f.load == Load::KernelString)
                        << pt.symbol;
                }
            }
            if (pt.reach == Reach::Boundary) {
                EXPECT_TRUE(pt.ret_type == "s32" || pt.ret_type == "s64") << pt.symbol;
                EXPECT_EQ(seen, arg_names(ev)) << pt.symbol << " must fetch every argument, in order";
            } else {
                EXPECT_FALSE(seen.empty()) << pt.symbol;
            }
        }
        for (const auto& f : ev.libc_fetch)
            EXPECT_GE(arg_index(ev, f.arg), 0) << ev.libc_symbol;
    }
}

TEST(Catalog, Lookups) {
    EXPECT_EQ(find_event("nope"), nullptr);
    EXPECT_EQ(event_index(*find_event("msgctl")), 9);
    EXPECT_EQ(arg_index(*find_event("msgrcv"), "msgtyp"), 3);
    EXPECT_EQ(arg_index(*find_event("msgrcv"), "nope"), -1);
}

// The indices the hot path uses instead of looking names up: every argument a
// spec names exists, and is the one its name says.
TEST(Catalog, ArgumentReferencesResolvedOnce) {
    const auto named = [](const EventSpec& ev, std::string_view name, int got) {
        if (name.empty()) {
            EXPECT_EQ(got, -1) << ev.name;
            return;
        }
        ASSERT_GE(got, 0) << ev.name << " " << name;
        EXPECT_EQ(ev.args[static_cast<std::size_t>(got)].name, name) << ev.name;
    };
    for (const EventSpec& ev : catalog()) {
        const ArgRefs& r = arg_refs(event_index(ev));
        named(ev, ev.queue.ref, r.queue_ref);
        named(ev, ev.queue.returned, r.queue_returned);
        named(ev, ev.body.ptr, r.body_ptr);
        named(ev, ev.body.len_arg, r.body_len);
        ASSERT_EQ(r.out_ptr.size(), ev.outs.size());
        ASSERT_EQ(r.out_when.size(), ev.outs.size());
        for (std::size_t i = 0; i < ev.outs.size(); ++i) {
            named(ev, ev.outs[i].arg, r.out_ptr[i]);
            named(ev, ev.outs[i].when ? ev.outs[i].when->arg : "", r.out_when[i]);
        }
    }
    EXPECT_EQ(arg_refs(event_index(*find_event("msgrcv"))).out_ptr[0], 1); // mtype, through msgp
    EXPECT_EQ(arg_refs(event_index(*find_event("mq_timedsend"))).body_len, 2);
}

// The kallsyms reader (kernel.cpp) skips names without "mq" or "msg" (or the
// prefix lookup_one) before it compares them with the catalog's probe points:
// every probe point has one.
TEST(Catalog, EveryProbeSymbolNamesMqOrMsg) {
    for (const auto& ev : catalog())
        for (const auto& pt : ev.kprobe_points)
            EXPECT_TRUE(pt.symbol.find("mq") != std::string_view::npos ||
                        pt.symbol.find("msg") != std::string_view::npos ||
                        pt.symbol.starts_with("lookup_one"))
                << pt.symbol;
}
