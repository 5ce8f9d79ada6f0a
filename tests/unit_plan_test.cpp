// Probe plans against recorded kernel profiles (tests/profiles): the exact
// tracefs lines each kind of kernel gets, in order of preference.
#include "mqtrace/catalog.hpp"
#include "mqtrace/correlator.hpp"
#include "mqtrace/decoder.hpp"
#include "mqtrace/format.hpp"
#include "mqtrace/plan.hpp"
#include "mqtrace/tasks.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <variant>
#include <vector>

using namespace mqtrace;

namespace {

KernelFacts profile(const std::string& name) {
    return parse_facts(load_profile_dir(std::string(MQTRACE_SOURCE_ROOT) + "/tests/profiles/" + name));
}

// Debian 12's libc.so.6: file offsets of the wrappers, by catalog event (msgrcv has none).
LibcTarget libc() {
    return LibcTarget{
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        {0x93d90, 0x94030, 0x93f50, 0x93fd0, 0x942c0, 0x93eb0, 0x10ca70, 0x10c9a0, 0, 0x10cb40}};
}

Plan plan_for(const KernelFacts& k, Backend b, UserReads reads = UserReads::Auto) {
    PlanOptions o;
    o.group = "mqtrace_42";
    o.reads = reads;
    for (std::size_t i = 0; i < catalog().size(); ++i)
        o.events.push_back(static_cast<int>(i));
    o.libcs.push_back(libc());
    return make_plan(k, b, o);
}

// Every probe line of every alternative for one event, alternatives separated by "|".
std::vector<std::string> lines(const Plan& p, const char* ev) {
    std::vector<std::string> out;
    for (const auto& ep : p.events) {
        if (catalog()[ep.ev].name != ev) continue;
        for (const auto& alt : ep.alts) {
            if (!out.empty()) out.push_back("|");
            for (const auto& pr : alt.probes)
                out.push_back(pr.kind == ProbeKind::Tracepoint ? pr.system + "/" + pr.event
                                                               : pr.definition());
        }
    }
    return out;
}

using L = std::vector<std::string>;

} // namespace

TEST(Facts, FeaturesFromReadmeAndFiles) {
    const KernelFacts k310 = profile("linux-3.10-x86_64"), k414 = profile("linux-4.14-x86_64"),
                      k54 = profile("linux-5.4-x86_64"), k61 = profile("linux-6.1-x86_64"),
                      k618 = profile("linux-6.18-x86_64");
    EXPECT_TRUE(k310.kprobe_events);
    EXPECT_FALSE(k310.dynamic_events || k310.ustring || k310.user_deref || k310.arg_n || k310.maxactive);
    EXPECT_TRUE(k414.maxactive);
    EXPECT_FALSE(k414.ustring || k414.arg_n || k414.dynamic_events);
    EXPECT_TRUE(k54.ustring && k54.user_deref && k54.arg_n && k54.dynamic_events && k54.buffer_percent);
    EXPECT_TRUE(k61.kprobe_events && k61.ustring);
    EXPECT_EQ(k61.ptregs_prefix(), "__x64_sys_");
    EXPECT_EQ(k414.ptregs_prefix(), "");
    EXPECT_FALSE(k618.kprobe_events); // this machine: no kprobes
    EXPECT_TRUE(k618.uprobe_events && k618.ustring);
    EXPECT_NE(backend_unavailable(k618, Backend::Kprobe), "");
    EXPECT_EQ(backend_unavailable(k618, Backend::Syscalls), "");
    EXPECT_EQ(backend_unavailable(k61, Backend::Kprobe), "");
    EXPECT_EQ(k618.arch, Arch::X86_64);
}

TEST(Plan, Linux310UsesSysWrappersAndString) {
    const Plan p = plan_for(profile("linux-3.10-x86_64"), Backend::Kprobe);
    EXPECT_EQ(
        lines(p, "mq_open"),
        (L{"p:mqtrace_42/mq_open sys_mq_open name=%di:x64 name_str=+0(%di):string oflag=%si:s32 mode=%dx:u16 "
           "attr=%cx:x64 attr__mq_flags=+0(%cx):s64 attr__mq_maxmsg=+8(%cx):s64 "
           "attr__mq_msgsize=+16(%cx):s64 "
           "attr__mq_curmsgs=+24(%cx):s64",
           "r:mqtrace_42/mq_open_ret sys_mq_open ret=$retval:s64"}));
    EXPECT_EQ(lines(p, "msgget"), (L{"p:mqtrace_42/msgget sys_msgget key=%di:s32 msgflg=%si:s32",
                                     "r:mqtrace_42/msgget_ret sys_msgget ret=$retval:s64"}));
    // Every call at sys_msgsnd; do_msgsnd adds the mtype the kernel read.
    EXPECT_EQ(
        lines(p, "msgsnd"),
        (L{"p:mqtrace_42/msgsnd sys_msgsnd msqid=%di:s32 msgp=%si:x64 msgp__mtype=+0(%si):s64 msgsz=%dx:u64 "
           "msgflg=%cx:s32",
           "r:mqtrace_42/msgsnd_ret sys_msgsnd ret=$retval:s64",
           "p:mqtrace_42/msgsnd_in do_msgsnd msgp__mtype=%si:s64", "|",
           "p:mqtrace_42/msgsnd sys_msgsnd msqid=%di:s32 msgp=%si:x64 msgp__mtype=+0(%si):s64 msgsz=%dx:u64 "
           "msgflg=%cx:s32",
           "r:mqtrace_42/msgsnd_ret sys_msgsnd ret=$retval:s64"}));
    EXPECT_EQ(lines(p, "msgctl"), (L{"p:mqtrace_42/msgctl sys_msgctl msqid=%di:s32 cmd=%si:s32 buf=%dx:x64 "
                                     "buf__msg_perm__uid=+4(%dx):u32 buf__msg_perm__gid=+8(%dx):u32 "
                                     "buf__msg_perm__mode=+20(%dx):u16 buf__msg_qbytes=+88(%dx):u64",
                                     "r:mqtrace_42/msgctl_ret sys_msgctl ret=$retval:s64"}));
}

TEST(Plan, Linux414AnchorsAtSysAndAddsDoMqOpen) {
    const Plan p = plan_for(profile("linux-4.14-x86_64"), Backend::Kprobe);
    EXPECT_EQ(lines(p, "mq_open"),
              (L{"p:mqtrace_42/mq_open sys_mq_open name=%di:x64 name_str=+0(%di):string oflag=%si:s32 "
                 "mode=%dx:u16 attr=%cx:x64 attr__mq_flags=+0(%cx):s64 attr__mq_maxmsg=+8(%cx):s64 "
                 "attr__mq_msgsize=+16(%cx):s64 attr__mq_curmsgs=+24(%cx):s64",
                 "r64:mqtrace_42/mq_open_ret sys_mq_open ret=$retval:s64",
                 "p:mqtrace_42/mq_open_in do_mq_open attr_kptr=%cx:x64 attr__mq_flags=+0(%cx):s64 "
                 "attr__mq_maxmsg=+8(%cx):s64 attr__mq_msgsize=+16(%cx):s64 attr__mq_curmsgs=+24(%cx):s64",
                 "|",
                 "p:mqtrace_42/mq_open sys_mq_open name=%di:x64 name_str=+0(%di):string oflag=%si:s32 "
                 "mode=%dx:u16 attr=%cx:x64 attr__mq_flags=+0(%cx):s64 attr__mq_maxmsg=+8(%cx):s64 "
                 "attr__mq_msgsize=+16(%cx):s64 attr__mq_curmsgs=+24(%cx):s64",
                 "r64:mqtrace_42/mq_open_ret sys_mq_open ret=$retval:s64"}));
    EXPECT_EQ(lines(p, "mq_unlink"),
              (L{"p:mqtrace_42/mq_unlink sys_mq_unlink name=%di:x64 name_str=+0(%di):string",
                 "r64:mqtrace_42/mq_unlink_ret sys_mq_unlink ret=$retval:s64"}));
    EXPECT_EQ(lines(p, "mq_notify").at(2),
              "p:mqtrace_42/mq_notify_in do_mq_notify sevp_kptr=%si:x64 sevp__sigev_value=+0(%si):u64 "
              "sevp__sigev_signo=+8(%si):s32 sevp__sigev_notify=+12(%si):s32 "
              "sevp__sigev_notify_thread_id=+16(%si):s32");
}

TEST(Plan, Linux54UsesPtRegsWrappersUstringAndUserDeref) {
    const Plan p = plan_for(profile("linux-5.4-x86_64"), Backend::Kprobe);
    const L open = lines(p, "mq_open");
    ASSERT_EQ(open.size(), 6u);
    EXPECT_EQ(open[0],
              "p:mqtrace_42/mq_open __x64_sys_mq_open name=+112(%di):x64 name_str=+0(+112(%di)):ustring "
              "oflag=+104(%di):s32 mode=+96(%di):u16 attr=+56(%di):x64 attr__mq_flags=+u0(+56(%di)):s64 "
              "attr__mq_maxmsg=+u8(+56(%di)):s64 attr__mq_msgsize=+u16(+56(%di)):s64 "
              "attr__mq_curmsgs=+u24(+56(%di)):s64");
    EXPECT_EQ(open[2].rfind("p:mqtrace_42/mq_open_in do_mq_open attr_kptr=%cx:x64 ", 0), 0u);
    EXPECT_EQ(lines(p, "msgget"),
              (L{"p:mqtrace_42/msgget __x64_sys_msgget key=+112(%di):s32 msgflg=+104(%di):s32",
                 "r64:mqtrace_42/msgget_ret __x64_sys_msgget ret=$retval:s64"}));
    EXPECT_EQ(lines(p, "msgrcv").at(0),
              "p:mqtrace_42/msgrcv __x64_sys_msgrcv msqid=+112(%di):s32 msgp=+104(%di):x64 "
              "msgsz=+96(%di):u64 msgtyp=+56(%di):s64 msgflg=+72(%di):s32");
    EXPECT_EQ(
        lines(p, "msgctl"),
        (L{"p:mqtrace_42/msgctl __x64_sys_msgctl msqid=+112(%di):s32 cmd=+104(%di):s32 buf=+96(%di):x64 "
           "buf__msg_perm__uid=+u4(+96(%di)):u32 buf__msg_perm__gid=+u8(+96(%di)):u32 "
           "buf__msg_perm__mode=+u20(+96(%di)):u16 buf__msg_qbytes=+u88(+96(%di)):u64",
           "r64:mqtrace_42/msgctl_ret __x64_sys_msgctl ret=$retval:s64"}));
}

// Debian 6.1: the kernel the VM boots. Every call is anchored at the pt_regs
// wrapper; do_mq_timedsend adds the timeout as the kernel copied it.
TEST(Plan, Debian61) {
    const Plan p = plan_for(profile("linux-6.1-x86_64"), Backend::Kprobe);
    EXPECT_EQ(lines(p, "mq_timedsend"),
              (L{"p:mqtrace_42/mq_timedsend __x64_sys_mq_timedsend mqdes=+112(%di):s32 msg_ptr=+104(%di):x64 "
                 "msg_len=+96(%di):u64 msg_prio=+56(%di):u32 abs_timeout=+72(%di):x64 "
                 "abs_timeout__tv_sec=+u0(+72(%di)):s64 abs_timeout__tv_nsec=+u8(+72(%di)):s64",
                 "r64:mqtrace_42/mq_timedsend_ret __x64_sys_mq_timedsend ret=$retval:s64",
                 "p:mqtrace_42/mq_timedsend_in do_mq_timedsend abs_timeout_kptr=%r8:x64 "
                 "abs_timeout__tv_sec=+0(%r8):s64 abs_timeout__tv_nsec=+8(%r8):s64",
                 "|",
                 "p:mqtrace_42/mq_timedsend __x64_sys_mq_timedsend mqdes=+112(%di):s32 msg_ptr=+104(%di):x64 "
                 "msg_len=+96(%di):u64 msg_prio=+56(%di):u32 abs_timeout=+72(%di):x64 "
                 "abs_timeout__tv_sec=+u0(+72(%di)):s64 abs_timeout__tv_nsec=+u8(+72(%di)):s64",
                 "r64:mqtrace_42/mq_timedsend_ret __x64_sys_mq_timedsend ret=$retval:s64"}));
    EXPECT_EQ(
        lines(p, "mq_getsetattr"),
        (L{"p:mqtrace_42/mq_getsetattr __x64_sys_mq_getsetattr mqdes=+112(%di):s32 newattr=+104(%di):x64 "
           "newattr__mq_flags=+u0(+104(%di)):s64 newattr__mq_maxmsg=+u8(+104(%di)):s64 "
           "newattr__mq_msgsize=+u16(+104(%di)):s64 newattr__mq_curmsgs=+u24(+104(%di)):s64 "
           "oldattr=+96(%di):x64",
           "r64:mqtrace_42/mq_getsetattr_ret __x64_sys_mq_getsetattr ret=$retval:s64"}));
    // ksys_msgget is in kallsyms but inlined (it never fires): not a candidate.
    EXPECT_EQ(lines(p, "msgget"),
              (L{"p:mqtrace_42/msgget __x64_sys_msgget key=+112(%di):s32 msgflg=+104(%di):s32",
                 "r64:mqtrace_42/msgget_ret __x64_sys_msgget ret=$retval:s64"}));
    EXPECT_EQ(lines(p, "msgsnd").at(2), "p:mqtrace_42/msgsnd_in do_msgsnd msgp__mtype=%si:s64");
    ASSERT_EQ(p.tasks.size(), 3u);
    EXPECT_EQ(p.tasks[0].system + "/" + p.tasks[0].event, "task/task_newtask");
}

// The kernels scripts/vm/matrix boots (profiles recorded there with --record-profile): Debian 12's
// stock 6.1, 6.12, and the 6.1 cloud and PREEMPT_RT flavours. Every one gets the same first
// choices, exactly the lines --dry-run printed in each guest (the matrix checks that the guest's
// --dry-run equals the plan of its profile here); their self-tests rejected none of them.
TEST(Plan, BootedDebianKernels) {
    const L want{"p:mqtrace_42/mq_open __x64_sys_mq_open name=+112(%di):x64 name_str=+0(+112(%di)):ustring "
                 "oflag=+104(%di):s32 mode=+96(%di):u16 attr=+56(%di):x64 attr__mq_flags=+u0(+56(%di)):s64 "
                 "attr__mq_maxmsg=+u8(+56(%di)):s64 attr__mq_msgsize=+u16(+56(%di)):s64 "
                 "attr__mq_curmsgs=+u24(+56(%di)):s64",
                 "r64:mqtrace_42/mq_open_ret __x64_sys_mq_open ret=$retval:s64",
                 "p:mqtrace_42/mq_open_in do_mq_open attr_kptr=%cx:x64 attr__mq_flags=+0(%cx):s64 "
                 "attr__mq_maxmsg=+8(%cx):s64 attr__mq_msgsize=+16(%cx):s64 attr__mq_curmsgs=+24(%cx):s64",
                 "p:mqtrace_42/mq_open_in2 lookup_one_len name_str=+0(%di):string",
                 "p:mqtrace_42/mq_unlink __x64_sys_mq_unlink name=+112(%di):x64 "
                 "name_str=+0(+112(%di)):ustring",
                 "r64:mqtrace_42/mq_unlink_ret __x64_sys_mq_unlink ret=$retval:s64",
                 "p:mqtrace_42/mq_unlink_in lookup_one_len name_str=+0(%di):string",
                 "p:mqtrace_42/mq_timedsend __x64_sys_mq_timedsend mqdes=+112(%di):s32 "
                 "msg_ptr=+104(%di):x64 msg_len=+96(%di):u64 msg_prio=+56(%di):u32 "
                 "abs_timeout=+72(%di):x64 abs_timeout__tv_sec=+u0(+72(%di)):s64 "
                 "abs_timeout__tv_nsec=+u8(+72(%di)):s64",
                 "r64:mqtrace_42/mq_timedsend_ret __x64_sys_mq_timedsend ret=$retval:s64",
                 "p:mqtrace_42/mq_timedsend_in do_mq_timedsend abs_timeout_kptr=%r8:x64 "
                 "abs_timeout__tv_sec=+0(%r8):s64 abs_timeout__tv_nsec=+8(%r8):s64",
                 "p:mqtrace_42/mq_timedreceive __x64_sys_mq_timedreceive mqdes=+112(%di):s32 "
                 "msg_ptr=+104(%di):x64 msg_len=+96(%di):u64 msg_prio=+56(%di):x64 "
                 "abs_timeout=+72(%di):x64 abs_timeout__tv_sec=+u0(+72(%di)):s64 "
                 "abs_timeout__tv_nsec=+u8(+72(%di)):s64",
                 "r64:mqtrace_42/mq_timedreceive_ret __x64_sys_mq_timedreceive ret=$retval:s64",
                 "p:mqtrace_42/mq_timedreceive_in do_mq_timedreceive abs_timeout_kptr=%r8:x64 "
                 "abs_timeout__tv_sec=+0(%r8):s64 abs_timeout__tv_nsec=+8(%r8):s64",
                 "p:mqtrace_42/mq_notify __x64_sys_mq_notify mqdes=+112(%di):s32 sevp=+104(%di):x64 "
                 "sevp__sigev_value=+u0(+104(%di)):u64 sevp__sigev_signo=+u8(+104(%di)):s32 "
                 "sevp__sigev_notify=+u12(+104(%di)):s32 sevp__sigev_notify_thread_id=+u16(+104(%di)):s32",
                 "r64:mqtrace_42/mq_notify_ret __x64_sys_mq_notify ret=$retval:s64",
                 "p:mqtrace_42/mq_notify_in do_mq_notify sevp_kptr=%si:x64 sevp__sigev_value=+0(%si):u64 "
                 "sevp__sigev_signo=+8(%si):s32 sevp__sigev_notify=+12(%si):s32 "
                 "sevp__sigev_notify_thread_id=+16(%si):s32",
                 "p:mqtrace_42/mq_getsetattr __x64_sys_mq_getsetattr mqdes=+112(%di):s32 "
                 "newattr=+104(%di):x64 newattr__mq_flags=+u0(+104(%di)):s64 "
                 "newattr__mq_maxmsg=+u8(+104(%di)):s64 newattr__mq_msgsize=+u16(+104(%di)):s64 "
                 "newattr__mq_curmsgs=+u24(+104(%di)):s64 oldattr=+96(%di):x64",
                 "r64:mqtrace_42/mq_getsetattr_ret __x64_sys_mq_getsetattr ret=$retval:s64",
                 "p:mqtrace_42/msgget __x64_sys_msgget key=+112(%di):s32 msgflg=+104(%di):s32",
                 "r64:mqtrace_42/msgget_ret __x64_sys_msgget ret=$retval:s64",
                 "p:mqtrace_42/msgsnd __x64_sys_msgsnd msqid=+112(%di):s32 msgp=+104(%di):x64 "
                 "msgp__mtype=+u0(+104(%di)):s64 msgsz=+96(%di):u64 msgflg=+56(%di):s32",
                 "r64:mqtrace_42/msgsnd_ret __x64_sys_msgsnd ret=$retval:s64",
                 "p:mqtrace_42/msgsnd_in do_msgsnd msgp__mtype=%si:s64",
                 "p:mqtrace_42/msgrcv __x64_sys_msgrcv msqid=+112(%di):s32 msgp=+104(%di):x64 "
                 "msgsz=+96(%di):u64 msgtyp=+56(%di):s64 msgflg=+72(%di):s32",
                 "r64:mqtrace_42/msgrcv_ret __x64_sys_msgrcv ret=$retval:s64",
                 "p:mqtrace_42/msgctl __x64_sys_msgctl msqid=+112(%di):s32 cmd=+104(%di):s32 "
                 "buf=+96(%di):x64 buf__msg_perm__uid=+u4(+96(%di)):u32 "
                 "buf__msg_perm__gid=+u8(+96(%di)):u32 buf__msg_perm__mode=+u20(+96(%di)):u16 "
                 "buf__msg_qbytes=+u88(+96(%di)):u64",
                 "r64:mqtrace_42/msgctl_ret __x64_sys_msgctl ret=$retval:s64"};
    // 6.12 (6.9+: $argN in return probes) reads the output parameters in the return probes,
    // through the entry's struct pt_regs *; 6.1 reads them after the call (late).
    L want612 = want;
    auto ret = [&](const char* ev, const std::string& fetch) {
        const std::string head = std::string("r64:mqtrace_42/") + ev + "_ret ";
        for (auto& l : want612)
            if (l.rfind(head, 0) == 0) l += " " + fetch;
    };
    ret("mq_timedreceive", "out_msg_prio=+u0(+56($arg1)):u32");
    ret("mq_getsetattr",
        "out_oldattr__mq_flags=+u0(+96($arg1)):s64 out_oldattr__mq_maxmsg=+u8(+96($arg1)):s64 "
        "out_oldattr__mq_msgsize=+u16(+96($arg1)):s64 out_oldattr__mq_curmsgs=+u24(+96($arg1)):s64");
    ret("msgrcv", "out_mtype=+u0(+104($arg1)):s64");
    ret("msgctl", "out_buf__msg_perm__key=+u0(+96($arg1)):s32 out_buf__msg_perm__uid=+u4(+96($arg1)):u32 "
                  "out_buf__msg_perm__gid=+u8(+96($arg1)):u32 out_buf__msg_perm__cuid=+u12(+96($arg1)):u32 "
                  "out_buf__msg_perm__cgid=+u16(+96($arg1)):u32 out_buf__msg_perm__mode=+u20(+96($arg1)):u16 "
                  "out_buf__msg_stime=+u48(+96($arg1)):s64 out_buf__msg_rtime=+u56(+96($arg1)):s64 "
                  "out_buf__msg_ctime=+u64(+96($arg1)):s64 out_buf__msg_qnum=+u80(+96($arg1)):u64 "
                  "out_buf__msg_qbytes=+u88(+96($arg1)):u64 out_buf__msg_lspid=+u96(+96($arg1)):s32 "
                  "out_buf__msg_lrpid=+u100(+96($arg1)):s32 out_info__msgpool=+u0(+96($arg1)):s32 "
                  "out_info__msgmap=+u4(+96($arg1)):s32 out_info__msgmax=+u8(+96($arg1)):s32 "
                  "out_info__msgmnb=+u12(+96($arg1)):s32 out_info__msgmni=+u16(+96($arg1)):s32 "
                  "out_info__msgssz=+u20(+96($arg1)):s32 out_info__msgtql=+u24(+96($arg1)):s32 "
                  "out_info__msgseg=+u28(+96($arg1)):u16");
    for (const char* name :
         {"linux-6.1-x86_64", "linux-6.12-x86_64", "linux-6.1-cloud-x86_64", "linux-6.1-rt-x86_64"}) {
        const KernelFacts k = profile(name);
        EXPECT_TRUE(k.kprobe_events && k.dynamic_events && k.ustring && k.user_deref) << name;
        EXPECT_EQ(k.ret_arg_n, std::string(name) == "linux-6.12-x86_64") << name;
        const Plan p = plan_for(k, Backend::Kprobe);
        L first;
        for (const auto& ep : p.events) {
            for (const auto& pr : ep.alts.at(0).probes)
                first.push_back(pr.definition());
            // All the inner probes (the kernel's copies) first, then each alone (when there are
            // more), then the boundary alone.
            const std::size_t inner = ep.alts[0].probes.size() - 2;
            EXPECT_EQ(ep.alts.size(), inner == 0 ? 1u : inner == 1 ? 2u : inner + 2) << name;
        }
        EXPECT_EQ(first, std::string(name) == "linux-6.12-x86_64" ? want612 : want) << name;
    }
    EXPECT_EQ(profile("linux-6.12-x86_64").release, "6.12.117+deb12-amd64");
    EXPECT_EQ(profile("linux-6.1-rt-x86_64").release, "6.1.0-57-rt-amd64");
    EXPECT_EQ(profile("linux-6.1-cloud-x86_64").release, "6.1.0-57-cloud-amd64");
}

// Which probe sees every call (the anchor: entry and return of the first
// alternative) and which adds the kernel's copies, per recorded kernel.
TEST(Plan, EveryKernelAnchorsEveryCallAtTheSyscallBoundary) {
    const std::vector<std::pair<std::string, std::string>> want{
        {"linux-3.10-x86_64", "mq_open@sys_mq_open mq_unlink@sys_mq_unlink mq_timedsend@sys_mq_timedsend "
                              "mq_timedreceive@sys_mq_timedreceive mq_notify@sys_mq_notify "
                              "mq_getsetattr@sys_mq_getsetattr msgget@sys_msgget msgsnd@sys_msgsnd+do_msgsnd "
                              "msgrcv@sys_msgrcv msgctl@sys_msgctl"},
        {"linux-4.14-x86_64",
         "mq_open@sys_mq_open+do_mq_open mq_unlink@sys_mq_unlink "
         "mq_timedsend@sys_mq_timedsend+do_mq_timedsend "
         "mq_timedreceive@sys_mq_timedreceive+do_mq_timedreceive "
         "mq_notify@sys_mq_notify+do_mq_notify mq_getsetattr@sys_mq_getsetattr "
         "msgget@sys_msgget msgsnd@sys_msgsnd+do_msgsnd msgrcv@sys_msgrcv msgctl@sys_msgctl"},
    };
    const std::string modern =
        "mq_open@__x64_sys_mq_open+do_mq_open mq_unlink@__x64_sys_mq_unlink "
        "mq_timedsend@__x64_sys_mq_timedsend+do_mq_timedsend "
        "mq_timedreceive@__x64_sys_mq_timedreceive+do_mq_timedreceive "
        "mq_notify@__x64_sys_mq_notify+do_mq_notify "
        "mq_getsetattr@__x64_sys_mq_getsetattr msgget@__x64_sys_msgget "
        "msgsnd@__x64_sys_msgsnd+do_msgsnd msgrcv@__x64_sys_msgrcv msgctl@__x64_sys_msgctl";
    auto anchors = [](const Plan& p) {
        std::string s;
        for (const auto& ep : p.events) {
            const auto& probes = ep.alts.at(0).probes;
            EXPECT_EQ(probes.at(0).role, Role::Entry);
            EXPECT_EQ(probes.at(1).role, Role::Return);
            EXPECT_EQ(probes[0].place, probes[1].place);
            s += (s.empty() ? "" : " ") + std::string(catalog()[ep.ev].name) + "@" + probes[0].place;
            for (const auto& pr : probes)
                if (pr.role == Role::Inner) s += "+" + pr.place;
            // The last alternative is the boundary alone.
            for (const auto& pr : ep.alts.back().probes)
                EXPECT_NE(pr.role, Role::Inner);
        }
        return s;
    };
    for (const auto& [name, expect] : want)
        EXPECT_EQ(anchors(plan_for(profile(name), Backend::Kprobe)), expect) << name;
    EXPECT_EQ(anchors(plan_for(profile("linux-5.4-x86_64"), Backend::Kprobe)), modern);
    // Booted kernels list lookup_one_len too (the derived profiles above do not).
    std::string booted = modern;
    booted.replace(booted.find("+do_mq_open"), 11, "+do_mq_open+lookup_one_len");
    booted.replace(booted.find("__x64_sys_mq_unlink"), 19, "__x64_sys_mq_unlink+lookup_one_len");
    EXPECT_EQ(anchors(plan_for(profile("linux-6.1-x86_64"), Backend::Kprobe)), booted);
    // This machine: no kprobes; the syscall tracepoints see every call.
    for (const auto& ep : plan_for(profile("linux-6.18-x86_64"), Backend::Syscalls).events)
        EXPECT_EQ(ep.alts.at(0).probes.at(0).event, "sys_enter_" + std::string(catalog()[ep.ev].name));
}

// A record holds at most kMaxFields fields: no probe of any plan may fetch
// more than the Decoder takes.
TEST(Plan, NoProbeFetchesMoreThanARecordHolds) {
    for (const char* name :
         {"linux-3.10-x86_64", "linux-4.14-x86_64", "linux-5.4-x86_64", "linux-6.1-x86_64",
          "linux-6.1-cloud-x86_64", "linux-6.1-rt-x86_64", "linux-6.12-x86_64", "linux-6.18-x86_64"})
        for (Backend b : {Backend::Kprobe, Backend::Syscalls})
            for (UserReads r : {UserReads::Auto, UserReads::Uprobe, UserReads::Late, UserReads::Stack}) {
                const KernelFacts k = profile(name);
                if (!backend_unavailable(k, b).empty()) continue;
                PlanOptions o;
                o.reads = r;
                for (const auto& ep : make_plan(k, b, o).events)
                    for (const auto& alt : ep.alts)
                        for (const auto& pr : alt.probes)
                            EXPECT_LE(pr.fields.size(), kMaxFields) << name << " " << pr.event;
            }
}

TEST(Plan, TestHookTriesASymbolFirst) {
    PlanOptions o;
    o.group = "g";
    o.events = {6};
    o.test_first.emplace_back(6, "ksys_msgget");
    const Plan p = make_plan(profile("linux-6.1-x86_64"), Backend::Kprobe, o);
    ASSERT_EQ(p.events.at(0).alts.size(), 2u);
    EXPECT_EQ(p.events[0].alts[0].label, "kprobe ksys_msgget");
    EXPECT_EQ(p.events[0].alts[1].label, "kprobe __x64_sys_msgget");
}

// This machine: no kprobes; syscall tracepoints plus uprobes on libc for names.
TEST(Plan, Linux618SyscallsAndUprobes) {
    const Plan p = plan_for(profile("linux-6.18-x86_64"), Backend::Syscalls);
    EXPECT_EQ(lines(p, "mq_open"),
              (L{"syscalls/sys_enter_mq_open", "syscalls/sys_exit_mq_open",
                 "p:mqtrace_42/mq_open_libc0 /usr/lib/x86_64-linux-gnu/libc.so.6:0x93d90 u_name=%di:x64 "
                 "u_name_str=+0(%di):ustring u_attr=%cx:x64 u_attr__mq_flags=+0(%cx):s64 "
                 "u_attr__mq_maxmsg=+8(%cx):s64 "
                 "u_attr__mq_msgsize=+16(%cx):s64 u_attr__mq_curmsgs=+24(%cx):s64"}));
    EXPECT_EQ(lines(p, "mq_unlink"),
              (L{"syscalls/sys_enter_mq_unlink", "syscalls/sys_exit_mq_unlink",
                 "p:mqtrace_42/mq_unlink_libc0 /usr/lib/x86_64-linux-gnu/libc.so.6:0x94030 "
                 "u_name=%di:x64 u_name_str=+0(%di):ustring"}));
    EXPECT_EQ(lines(p, "msgctl").at(1), "syscalls/sys_exit_msgctl");
    EXPECT_EQ(lines(p, "msgrcv"), (L{"syscalls/sys_enter_msgrcv", "syscalls/sys_exit_msgrcv"}));
    // Entry fields are positional: the kernel names them (u_name, oflag, ...).
    const Probe& entry = p.events[0].alts[0].probes[0];
    ASSERT_EQ(entry.fields.size(), 4u);
    EXPECT_EQ(entry.fields[3].key, "attr");
    EXPECT_EQ(entry.fields[3].pos, 3);
}

// Which calls get a uprobe on their libc wrapper, per --user-reads mode.
TEST(Plan, UserReadsModes) {
    const KernelFacts k = profile("linux-6.18-x86_64");
    auto wrapped = [&](UserReads r) {
        std::string s;
        for (const auto& ep : plan_for(k, Backend::Syscalls, r).events)
            for (const auto& pr : ep.alts.at(0).probes)
                if (pr.role == Role::Wrapper)
                    s += (s.empty() ? "" : " ") + std::string(catalog()[ep.ev].name);
        return s;
    };
    // auto: not on the calls made once per message, where a uprobe costs the most.
    EXPECT_EQ(wrapped(UserReads::Auto), "mq_open mq_unlink mq_notify mq_getsetattr msgctl");
    EXPECT_EQ(wrapped(UserReads::Uprobe),
              "mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr msgsnd msgctl");
    EXPECT_EQ(wrapped(UserReads::Late), "");
    const Plan p = plan_for(k, Backend::Syscalls, UserReads::Uprobe);
    EXPECT_EQ(lines(p, "msgsnd").at(2),
              "p:mqtrace_42/msgsnd_libc0 /usr/lib/x86_64-linux-gnu/libc.so.6:0x10c9a0 u_msgp=%si:x64 "
              "u_msgp__mtype=+0(%si):s64");
    EXPECT_EQ(lines(p, "msgctl").at(2),
              "p:mqtrace_42/msgctl_libc0 /usr/lib/x86_64-linux-gnu/libc.so.6:0x10cb40 u_buf=%dx:x64 "
              "u_buf__msg_perm__uid=+4(%dx):u32 u_buf__msg_perm__gid=+8(%dx):u32 "
              "u_buf__msg_perm__mode=+20(%dx):u16 "
              "u_buf__msg_qbytes=+88(%dx):u64");
    EXPECT_EQ(
        lines(p, "mq_timedsend").at(2),
        "p:mqtrace_42/mq_timedsend_libc0 /usr/lib/x86_64-linux-gnu/libc.so.6:0x93f50 u_abs_timeout=%r8:x64 "
        "u_abs_timeout__tv_sec=+0(%r8):s64 u_abs_timeout__tv_nsec=+8(%r8):s64");
}

TEST(Plan, SyscallStringFieldsOfNewerKernelsAreAdopted) {
    const Plan p = plan_for(profile("linux-6.18-x86_64"), Backend::Syscalls);
    Probe entry = p.events[0].alts[0].probes[0];
    const std::string format = "name: sys_enter_mq_open\nID: 2066\nformat:\n"
                               "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
                               "\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n"
                               "\tfield:const char * u_name;\toffset:16;\tsize:8;\tsigned:0;\n"
                               "\tfield:int oflag;\toffset:24;\tsize:8;\tsigned:0;\n"
                               "\tfield:umode_t mode;\toffset:32;\tsize:8;\tsigned:0;\n"
                               "\tfield:struct mq_attr * u_attr;\toffset:40;\tsize:8;\tsigned:0;\n"
                               "\tfield:__data_loc char[] __u_name_val;\toffset:48;\tsize:4;\tsigned:0;\n";
    adopt_string_fields(entry, format);
    ASSERT_EQ(entry.fields.size(), 5u);
    EXPECT_EQ(entry.fields[4].name, "__u_name_val");
    EXPECT_EQ(entry.fields[4].key, "name$str");
    EXPECT_EQ(entry.fields[4].src, Source::UserAtEntry);
    Probe again = p.events[0].alts[0].probes[0];
    adopt_string_fields(again, "name: x\nformat:\n\tfield:int __syscall_nr;\n\tfield:const char * u_name;\n");
    EXPECT_EQ(again.fields.size(), 4u); // this machine's format: nothing to adopt
}

// A kernel after 6.18 (tests/profiles/linux-6.19-x86_64, formats/ derived from the kernel source):
// sys_enter_mq_open and sys_enter_mq_unlink carry the name ("__u_name_val"), sys_enter_mq_timedsend
// the message bytes ("__u_msg_ptr_val", not a name: not adopted). The plan is 6.18's otherwise.
TEST(Plan, Linux619SyscallEventsCarryUserData) {
    const std::string dir = std::string(MQTRACE_SOURCE_ROOT) + "/tests/profiles/linux-6.19-x86_64";
    const KernelFacts k = profile("linux-6.19-x86_64");
    EXPECT_EQ(k.release, "6.19.0");
    EXPECT_FALSE(k.kprobe_events);
    const Plan p = plan_for(k, Backend::Syscalls);
    EXPECT_EQ(lines(p, "mq_open"),
              lines(plan_for(profile("linux-6.18-x86_64"), Backend::Syscalls), "mq_open"));
    auto fields = [&](const char* ev) {
        for (const auto& ep : p.events) {
            if (catalog()[ep.ev].name != ev) continue;
            Probe entry = ep.alts[0].probes[0];
            std::ifstream in(dir + "/formats/" + entry.event);
            EXPECT_TRUE(in) << entry.event;
            adopt_string_fields(entry, std::string(std::istreambuf_iterator<char>(in), {}));
            std::vector<std::string> out;
            for (const auto& f : entry.fields)
                out.push_back((f.name.empty() ? "#" + std::to_string(f.pos) : f.name) + "=" + f.key +
                              (f.src == Source::UserAtEntry ? " user-at-entry" : ""));
            return out;
        }
        return std::vector<std::string>{};
    };
    EXPECT_EQ(fields("mq_open"),
              (L{"#0=name", "#1=oflag", "#2=mode", "#3=attr", "__u_name_val=name$str user-at-entry"}));
    EXPECT_EQ(fields("mq_unlink"), (L{"#0=name", "__u_name_val=name$str user-at-entry"}));
    EXPECT_EQ(fields("mq_timedsend"),
              (L{"#0=mqdes", "#1=msg_ptr", "#2=msg_len", "#3=msg_prio", "#4=abs_timeout"}));
    // Not a substring match: a field named after another argument is not this one's copy.
    Probe entry = p.events[0].alts[0].probes[0];
    adopt_string_fields(entry, "name: x\nformat:\n\tfield:int __syscall_nr;\n\tfield:const char * u_name;\n"
                               "\tfield:__data_loc char[] __u_name_val2;\n");
    EXPECT_EQ(entry.fields.size(), 4u);
}

TEST(Plan, Arm64RegistersAndWrappers) {
    KernelProfile kp =
        load_profile_dir(std::string(MQTRACE_SOURCE_ROOT) + "/tests/profiles/linux-6.1-x86_64");
    kp.machine = "aarch64";
    kp.symbols = "do_mq_open\n__arm64_sys_mq_open\n__arm64_sys_msgget\n__arm64_sys_msgctl\n";
    const Plan p = plan_for(parse_facts(kp), Backend::Kprobe);
    EXPECT_EQ(lines(p, "mq_open")[0].rfind("p:mqtrace_42/mq_open __arm64_sys_mq_open name=+0(%x0):x64 "
                                           "name_str=+0(+0(%x0)):ustring oflag=+8(%x0):s32 ",
                                           0),
              0u);
    EXPECT_EQ(lines(p, "mq_open")[2].rfind("p:mqtrace_42/mq_open_in do_mq_open attr_kptr=%x3:x64 ", 0), 0u);
    EXPECT_EQ(lines(p, "msgctl").at(0),
              "p:mqtrace_42/msgctl __arm64_sys_msgctl msqid=+0(%x0):s32 cmd=+8(%x0):s32 buf=+16(%x0):x64 "
              "buf__msg_perm__uid=+u4(+16(%x0)):u32 buf__msg_perm__gid=+u8(+16(%x0)):u32 "
              "buf__msg_perm__mode=+u20(+16(%x0)):u16 buf__msg_qbytes=+u88(+16(%x0)):u64");
}

// Debian 12's stock arm64 kernel (linux-image-arm64, 6.1.0-57-arm64), recorded by --record-profile
// in the arm64 QEMU guest (scripts/vm/arm64, which checks that its --dry-run prints these lines):
// the __arm64_sys_* wrappers read the caller's registers through struct pt_regs * in x0 (x0-x5 at
// +0..+40), the inner functions take theirs in x0-x7. No do_msgrcv to add a copy to.
TEST(Plan, BootedDebianArm64Kernel) {
    const L want{
        "p:mqtrace_42/mq_open __arm64_sys_mq_open name=+0(%x0):x64 name_str=+0(+0(%x0)):ustring "
        "oflag=+8(%x0):s32 mode=+16(%x0):u16 attr=+24(%x0):x64 attr__mq_flags=+u0(+24(%x0)):s64 "
        "attr__mq_maxmsg=+u8(+24(%x0)):s64 attr__mq_msgsize=+u16(+24(%x0)):s64 "
        "attr__mq_curmsgs=+u24(+24(%x0)):s64",
        "r64:mqtrace_42/mq_open_ret __arm64_sys_mq_open ret=$retval:s64",
        "p:mqtrace_42/mq_open_in do_mq_open attr_kptr=%x3:x64 attr__mq_flags=+0(%x3):s64 "
        "attr__mq_maxmsg=+8(%x3):s64 attr__mq_msgsize=+16(%x3):s64 attr__mq_curmsgs=+24(%x3):s64",
        "p:mqtrace_42/mq_open_in2 lookup_one_len name_str=+0(%x0):string",
        "p:mqtrace_42/mq_unlink __arm64_sys_mq_unlink name=+0(%x0):x64 name_str=+0(+0(%x0)):ustring",
        "r64:mqtrace_42/mq_unlink_ret __arm64_sys_mq_unlink ret=$retval:s64",
        "p:mqtrace_42/mq_unlink_in lookup_one_len name_str=+0(%x0):string",
        "p:mqtrace_42/mq_timedsend __arm64_sys_mq_timedsend mqdes=+0(%x0):s32 msg_ptr=+8(%x0):x64 "
        "msg_len=+16(%x0):u64 msg_prio=+24(%x0):u32 abs_timeout=+32(%x0):x64 "
        "abs_timeout__tv_sec=+u0(+32(%x0)):s64 abs_timeout__tv_nsec=+u8(+32(%x0)):s64",
        "r64:mqtrace_42/mq_timedsend_ret __arm64_sys_mq_timedsend ret=$retval:s64",
        "p:mqtrace_42/mq_timedsend_in do_mq_timedsend abs_timeout_kptr=%x4:x64 "
        "abs_timeout__tv_sec=+0(%x4):s64 abs_timeout__tv_nsec=+8(%x4):s64",
        "p:mqtrace_42/mq_timedreceive __arm64_sys_mq_timedreceive mqdes=+0(%x0):s32 msg_ptr=+8(%x0):x64 "
        "msg_len=+16(%x0):u64 msg_prio=+24(%x0):x64 abs_timeout=+32(%x0):x64 "
        "abs_timeout__tv_sec=+u0(+32(%x0)):s64 abs_timeout__tv_nsec=+u8(+32(%x0)):s64",
        "r64:mqtrace_42/mq_timedreceive_ret __arm64_sys_mq_timedreceive ret=$retval:s64",
        "p:mqtrace_42/mq_timedreceive_in do_mq_timedreceive abs_timeout_kptr=%x4:x64 "
        "abs_timeout__tv_sec=+0(%x4):s64 abs_timeout__tv_nsec=+8(%x4):s64",
        "p:mqtrace_42/mq_notify __arm64_sys_mq_notify mqdes=+0(%x0):s32 sevp=+8(%x0):x64 "
        "sevp__sigev_value=+u0(+8(%x0)):u64 sevp__sigev_signo=+u8(+8(%x0)):s32 "
        "sevp__sigev_notify=+u12(+8(%x0)):s32 sevp__sigev_notify_thread_id=+u16(+8(%x0)):s32",
        "r64:mqtrace_42/mq_notify_ret __arm64_sys_mq_notify ret=$retval:s64",
        "p:mqtrace_42/mq_notify_in do_mq_notify sevp_kptr=%x1:x64 sevp__sigev_value=+0(%x1):u64 "
        "sevp__sigev_signo=+8(%x1):s32 sevp__sigev_notify=+12(%x1):s32 "
        "sevp__sigev_notify_thread_id=+16(%x1):s32",
        "p:mqtrace_42/mq_getsetattr __arm64_sys_mq_getsetattr mqdes=+0(%x0):s32 newattr=+8(%x0):x64 "
        "newattr__mq_flags=+u0(+8(%x0)):s64 newattr__mq_maxmsg=+u8(+8(%x0)):s64 "
        "newattr__mq_msgsize=+u16(+8(%x0)):s64 newattr__mq_curmsgs=+u24(+8(%x0)):s64 oldattr=+16(%x0):x64",
        "r64:mqtrace_42/mq_getsetattr_ret __arm64_sys_mq_getsetattr ret=$retval:s64",
        "p:mqtrace_42/msgget __arm64_sys_msgget key=+0(%x0):s32 msgflg=+8(%x0):s32",
        "r64:mqtrace_42/msgget_ret __arm64_sys_msgget ret=$retval:s64",
        "p:mqtrace_42/msgsnd __arm64_sys_msgsnd msqid=+0(%x0):s32 msgp=+8(%x0):x64 "
        "msgp__mtype=+u0(+8(%x0)):s64 msgsz=+16(%x0):u64 msgflg=+24(%x0):s32",
        "r64:mqtrace_42/msgsnd_ret __arm64_sys_msgsnd ret=$retval:s64",
        "p:mqtrace_42/msgsnd_in do_msgsnd msgp__mtype=%x1:s64",
        "p:mqtrace_42/msgrcv __arm64_sys_msgrcv msqid=+0(%x0):s32 msgp=+8(%x0):x64 msgsz=+16(%x0):u64 "
        "msgtyp=+24(%x0):s64 msgflg=+32(%x0):s32",
        "r64:mqtrace_42/msgrcv_ret __arm64_sys_msgrcv ret=$retval:s64",
        "p:mqtrace_42/msgctl __arm64_sys_msgctl msqid=+0(%x0):s32 cmd=+8(%x0):s32 buf=+16(%x0):x64 "
        "buf__msg_perm__uid=+u4(+16(%x0)):u32 buf__msg_perm__gid=+u8(+16(%x0)):u32 "
        "buf__msg_perm__mode=+u20(+16(%x0)):u16 buf__msg_qbytes=+u88(+16(%x0)):u64",
        "r64:mqtrace_42/msgctl_ret __arm64_sys_msgctl ret=$retval:s64"};
    const KernelFacts k = profile("linux-6.1-arm64");
    EXPECT_EQ(k.release, "6.1.0-57-arm64");
    EXPECT_EQ(k.arch, Arch::Arm64);
    EXPECT_EQ(k.ptregs_prefix(), "__arm64_sys_");
    EXPECT_TRUE(k.kprobe_events && k.dynamic_events && k.ustring && k.user_deref);
    const Plan p = plan_for(k, Backend::Kprobe);
    L first;
    for (const auto& ep : p.events) {
        for (const auto& pr : ep.alts.at(0).probes)
            first.push_back(pr.definition());
        const std::size_t inner = ep.alts[0].probes.size() - 2; // all, each alone (if more), none
        EXPECT_EQ(ep.alts.size(), inner == 0 ? 1u : inner == 1 ? 2u : inner + 2) << catalog()[ep.ev].name;
    }
    EXPECT_EQ(first, want);
}

// TOCTOU verified (kprobe backend): the inner probes' kernel copies replace
// what the boundary read from the caller's memory at entry, and are checked
// against it. Records as Debian 6.1's plan for mq_open makes them: the name
// the kernel looked up differs from the caller's at entry (another thread
// changed it), attr is the same. A call that fails before the inner points
// keeps the caller's values, unchecked.
TEST(Plan, KernelCopiesAreCheckedAgainstTheCallersMemory) {
    const KernelFacts k61 = profile("linux-6.1-x86_64");
    ASSERT_TRUE(k61.has_symbol("lookup_one_len"));
    const Plan p = plan_for(k61, Backend::Kprobe);
    const int ev = event_index(*find_event("mq_open"));
    const auto& alt = p.events[static_cast<std::size_t>(ev)].alts.at(0);
    ASSERT_EQ(alt.label, "kprobe __x64_sys_mq_open + do_mq_open + lookup_one_len (kernel copies)");
    TaskTable tasks(false);
    Correlator c(alt.probes, tasks);
    auto record = [&](const std::string& event, std::uint64_t ts, int tid,
                      std::map<std::string, std::variant<std::int64_t, std::string>> values) {
        Record r;
        r.ts = ts;
        r.tid = tid;
        for (std::size_t i = 0; i < alt.probes.size(); ++i)
            if (alt.probes[i].event == event) r.probe = static_cast<int>(i);
        const Probe& pr = alt.probes[static_cast<std::size_t>(r.probe)];
        EXPECT_EQ(pr.event, event);
        for (const Field& f : pr.fields) {
            FieldValue& v = r.values.emplace_back();
            const auto it = values.find(f.key);
            EXPECT_NE(it, values.end()) << event << " " << f.key;
            if (it == values.end()) continue;
            if (const auto* s = std::get_if<std::string>(&it->second)) {
                v.is_str = true;
                v.str = *s;
            } else {
                v.num = std::get<std::int64_t>(it->second);
            }
        }
        return r;
    };
    const std::map<std::string, std::variant<std::int64_t, std::string>> entry{
        {"name", 0x1000},      {"name$str", std::string("q-a")},
        {"oflag", 0x40},       {"mode", 0600},
        {"attr", 0x2000},      {"attr.mq_flags", 0},
        {"attr.mq_maxmsg", 4}, {"attr.mq_msgsize", 64},
        {"attr.mq_curmsgs", 0}};
    std::vector<Item> out;
    c.feed(record("mq_open", 10, 7, entry), out);
    c.feed(record("mq_open_in", 11, 7,
                  {{"attr$kptr", -1000},
                   {"attr.mq_flags", 0},
                   {"attr.mq_maxmsg", 4},
                   {"attr.mq_msgsize", 64},
                   {"attr.mq_curmsgs", 0}}),
           out);
    c.feed(record("mq_open_in2", 12, 8, {{"name$str", std::string("elsewhere")}}), out); // another thread
    c.feed(record("mq_open_in2", 13, 7, {{"name$str", std::string("q-b")}}), out);
    c.feed(record("mq_open_ret", 14, 7, {{"$ret", 3}}), out);
    c.feed(record("mq_open", 20, 7, entry), out); // fails before the inner points (EMFILE)
    c.feed(record("mq_open_ret", 21, 7, {{"$ret", -EMFILE}}), out);
    ASSERT_EQ(out.size(), 2u);

    const Call& raced = out[0].call;
    const ArgValue& name = raced.args[0];
    EXPECT_EQ(name.str, "q-b"); // the kernel's
    EXPECT_EQ(name.src, Source::KernelCopy);
    EXPECT_EQ(name.verify, Verify::Mismatch);
    ASSERT_TRUE(name.caller);
    EXPECT_EQ(name.caller->str, "q-a");
    EXPECT_EQ(name.caller->src, Source::UserAtEntry);
    const ArgValue& attr = raced.args[3];
    EXPECT_EQ(attr.src, Source::KernelCopy);
    EXPECT_EQ(attr.verify, Verify::Verified);
    EXPECT_FALSE(attr.caller);
    FormatOptions text;
    const std::string line = format_item(out[0], text);
    EXPECT_NE(line.find("name=\"q-b\" /* TOCTOU: the caller had \"q-a\" */, oflag=O_RDONLY|O_CREAT"),
              std::string::npos)
        << line;
    FormatOptions json;
    json.format = OutputFormat::Json;
    const std::string j = format_item(out[0], json);
    EXPECT_NE(
        j.find("\"name\":{\"tags\":[\"K\"],\"source\":\"kernel-copy\",\"toctou\":\"mismatch\",\"caller\":"
               "\"q-a\"}"),
        std::string::npos)
        << j;
    EXPECT_NE(
        j.find("\"attr\":{\"tags\":[\"K\",\"OPT\"],\"source\":\"kernel-copy\",\"toctou\":\"verified\"}"),
        std::string::npos)
        << j;

    const Call& early = out[1].call;
    EXPECT_EQ(early.args[0].str, "q-a");
    EXPECT_EQ(early.args[0].src, Source::UserAtEntry);
    EXPECT_EQ(early.args[0].verify, Verify::None);
    EXPECT_EQ(early.args[3].src, Source::UserAtEntry);
    EXPECT_EQ(early.args[3].verify, Verify::None);
    EXPECT_EQ(format_item(out[1], json).find("toctou"), std::string::npos);
}
