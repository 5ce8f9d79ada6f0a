// The event catalog as data. See include/mqtrace/catalog.hpp.
#include "mqtrace/catalog.hpp"

#include <algorithm>
#include <array>

#include <sys/msg.h>

namespace mqtrace {
namespace {

// ---- struct layouts (LP64) -------------------------------------------------

constexpr std::array kMqAttrMembers{
    Member{"mq_flags", 0, 8, true, Decode::MqFlags},
    Member{"mq_maxmsg", 8, 8, true, Decode::Int},
    Member{"mq_msgsize", 16, 8, true, Decode::Int},
    Member{"mq_curmsgs", 24, 8, true, Decode::Int},
};
constexpr StructLayout kMqAttr{"struct mq_attr", 32, kMqAttrMembers};

constexpr std::array kTimespecMembers{
    Member{"tv_sec", 0, 8, true, Decode::Int},
    Member{"tv_nsec", 8, 8, true, Decode::Int},
};
constexpr StructLayout kTimespec{"struct timespec", 16, kTimespecMembers};

constexpr std::array kSigeventMembers{
    Member{"sigev_value", 0, 8, false, Decode::Ptr},
    Member{"sigev_signo", 8, 4, true, Decode::Signal},
    Member{"sigev_notify", 12, 4, true, Decode::SigevNotify},
    Member{"sigev_notify_thread_id", 16, 4, true, Decode::Int},
};
constexpr StructLayout kSigevent{"struct sigevent", 20, kSigeventMembers};

constexpr std::array kMsgbufMembers{
    Member{"mtype", 0, 8, true, Decode::Int},
};
constexpr StructLayout kMsgbuf{"struct msgbuf", 8, kMsgbufMembers};

// struct msqid_ds (msqid64_ds): what IPC_SET takes from it.
constexpr std::array kMsqidDsMembers{
    Member{"msg_perm.uid", 4, 4, false, Decode::UInt},
    Member{"msg_perm.gid", 8, 4, false, Decode::UInt},
    Member{"msg_perm.mode", 20, 2, false, Decode::Mode},
    Member{"msg_qbytes", 88, 8, false, Decode::UInt},
};
constexpr StructLayout kMsqidDs{"struct msqid_ds", 120, kMsqidDsMembers};

// struct msqid_ds (msqid64_ds) as IPC_STAT, MSG_STAT and MSG_STAT_ANY write it.
constexpr std::array kMsqidDsOutMembers{
    Member{"msg_perm.key", 0, 4, true, Decode::IpcKey},  Member{"msg_perm.uid", 4, 4, false, Decode::UInt},
    Member{"msg_perm.gid", 8, 4, false, Decode::UInt},   Member{"msg_perm.cuid", 12, 4, false, Decode::UInt},
    Member{"msg_perm.cgid", 16, 4, false, Decode::UInt}, Member{"msg_perm.mode", 20, 2, false, Decode::Mode},
    Member{"msg_stime", 48, 8, true, Decode::Int},       Member{"msg_rtime", 56, 8, true, Decode::Int},
    Member{"msg_ctime", 64, 8, true, Decode::Int},       Member{"msg_qnum", 80, 8, false, Decode::UInt},
    Member{"msg_qbytes", 88, 8, false, Decode::UInt},    Member{"msg_lspid", 96, 4, true, Decode::Int},
    Member{"msg_lrpid", 100, 4, true, Decode::Int},
};
constexpr StructLayout kMsqidDsOut{"struct msqid_ds", 120, kMsqidDsOutMembers};

// struct msginfo, as IPC_INFO and MSG_INFO write it.
constexpr std::array kMsginfoMembers{
    Member{"msgpool", 0, 4, true, Decode::Int}, Member{"msgmap", 4, 4, true, Decode::Int},
    Member{"msgmax", 8, 4, true, Decode::Int},  Member{"msgmnb", 12, 4, true, Decode::Int},
    Member{"msgmni", 16, 4, true, Decode::Int}, Member{"msgssz", 20, 4, true, Decode::Int},
    Member{"msgtql", 24, 4, true, Decode::Int}, Member{"msgseg", 28, 2, false, Decode::UInt},
};
constexpr StructLayout kMsginfo{"struct msginfo", 32, kMsginfoMembers};

constexpr std::array<const StructLayout*, 5> kLayouts{&kMqAttr, &kTimespec, &kSigevent, &kMsgbuf, &kMsqidDs};

constexpr InputIf kOnlyIpcSet{"cmd", 0xff, 1}; // IPC_SET, with or without IPC_64

// ---- arguments ---------------------------------------------------------------

constexpr unsigned kUserPtr = kTagU | kTagTOCTOU;

constexpr std::array kMqOpenArgs{
    ArgSpec{"name", "const char *", Decode::Name, kUserPtr, nullptr, "x64",
            "queue name as the kernel receives it (glibc strips the leading '/')"},
    ArgSpec{"oflag", "int", Decode::OpenFlags, 0, nullptr, "s32", "open flags"},
    ArgSpec{"mode", "mode_t", Decode::Mode, 0, nullptr, "u16", "permission bits, used with O_CREAT"},
    ArgSpec{"attr", "struct mq_attr *", Decode::Struct, kUserPtr | kTagOPT, &kMqAttr, "x64",
            "queue attributes, used with O_CREAT; NULL for defaults"},
};
constexpr std::array kMqUnlinkArgs{
    ArgSpec{"name", "const char *", Decode::Name, kUserPtr, nullptr, "x64", "queue name"},
};
constexpr std::array kMqTimedsendArgs{
    ArgSpec{"mqdes", "mqd_t", Decode::Fd, 0, nullptr, "s32", "queue descriptor"},
    ArgSpec{"msg_ptr", "const char *", Decode::Ptr, kUserPtr, nullptr, "x64", "address of the message body"},
    ArgSpec{"msg_len", "size_t", Decode::UInt, 0, nullptr, "u64", "length of the message body"},
    ArgSpec{"msg_prio", "unsigned int", Decode::UInt, 0, nullptr, "u32", "message priority"},
    ArgSpec{"abs_timeout", "const struct timespec *", Decode::Struct, kUserPtr | kTagOPT, &kTimespec, "x64",
            "absolute timeout (CLOCK_REALTIME); NULL blocks forever"},
};
constexpr std::array kMqTimedreceiveArgs{
    ArgSpec{"mqdes", "mqd_t", Decode::Fd, 0, nullptr, "s32", "queue descriptor"},
    ArgSpec{"msg_ptr", "char *", Decode::Ptr, kUserPtr, nullptr, "x64", "address of the receive buffer"},
    ArgSpec{"msg_len", "size_t", Decode::UInt, 0, nullptr, "u64", "size of the receive buffer"},
    ArgSpec{"msg_prio", "unsigned int *", Decode::Ptr, kUserPtr | kTagOPT, nullptr, "x64",
            "where the priority is stored; may be NULL"},
    ArgSpec{"abs_timeout", "const struct timespec *", Decode::Struct, kUserPtr | kTagOPT, &kTimespec, "x64",
            "absolute timeout (CLOCK_REALTIME); NULL blocks forever"},
};
constexpr std::array kMqNotifyArgs{
    ArgSpec{"mqdes", "mqd_t", Decode::Fd, 0, nullptr, "s32", "queue descriptor"},
    ArgSpec{"sevp", "const struct sigevent *", Decode::Struct, kUserPtr | kTagOPT, &kSigevent, "x64",
            "notification request; NULL removes the registration"},
};
constexpr std::array kMqGetsetattrArgs{
    ArgSpec{"mqdes", "mqd_t", Decode::Fd, 0, nullptr, "s32", "queue descriptor"},
    ArgSpec{"newattr", "const struct mq_attr *", Decode::Struct, kUserPtr | kTagOPT, &kMqAttr, "x64",
            "new attributes (mq_setattr); NULL for mq_getattr"},
    ArgSpec{"oldattr", "struct mq_attr *", Decode::Ptr, kUserPtr | kTagOPT, nullptr, "x64",
            "where the old attributes are stored (output; address shown)"},
};
constexpr std::array kMsggetArgs{
    ArgSpec{"key", "key_t", Decode::IpcKey, 0, nullptr, "s32", "System V IPC key"},
    ArgSpec{"msgflg", "int", Decode::MsggetFlags, 0, nullptr, "s32", "IPC_CREAT, IPC_EXCL and mode"},
};
constexpr std::array kMsgsndArgs{
    ArgSpec{"msqid", "int", Decode::Int, 0, nullptr, "s32", "queue identifier"},
    ArgSpec{"msgp", "const void *", Decode::Struct, kUserPtr, &kMsgbuf, "x64",
            "message: mtype followed by the body"},
    ArgSpec{"msgsz", "size_t", Decode::UInt, 0, nullptr, "u64", "size of the body"},
    ArgSpec{"msgflg", "int", Decode::MsgFlags, 0, nullptr, "s32", "IPC_NOWAIT and friends"},
};
constexpr std::array kMsgrcvArgs{
    ArgSpec{"msqid", "int", Decode::Int, 0, nullptr, "s32", "queue identifier"},
    ArgSpec{"msgp", "void *", Decode::Ptr, kUserPtr, nullptr, "x64",
            "receive buffer (output; address shown)"},
    ArgSpec{"msgsz", "size_t", Decode::UInt, 0, nullptr, "u64", "size of the body buffer"},
    ArgSpec{"msgtyp", "long", Decode::Int, 0, nullptr, "s64", "which message type to receive"},
    ArgSpec{"msgflg", "int", Decode::MsgFlags, 0, nullptr, "s32",
            "IPC_NOWAIT, MSG_NOERROR, MSG_EXCEPT, MSG_COPY"},
};
constexpr std::array kMsgctlArgs{
    ArgSpec{"msqid", "int", Decode::Int, 0, nullptr, "s32", "queue identifier"},
    ArgSpec{"cmd", "int", Decode::MsgctlCmd, 0, nullptr, "s32", "IPC_STAT, IPC_SET, IPC_RMID..."},
    ArgSpec{"buf", "struct msqid_ds *", Decode::Struct, kUserPtr | kTagOPT, &kMsqidDs, "x64",
            "queue description: decoded for IPC_SET (input); else an output, its address shown",
            &kOnlyIpcSet},
};

// ---- output parameters ----------------------------------------------------------

constexpr std::array kMqTimedreceiveOuts{
    OutSpec{"msg_prio", "msg_prio", "unsigned int", nullptr, Member{"", 0, 4, false, Decode::UInt},
            "priority of the message received"},
};
constexpr std::array kMqGetsetattrOuts{
    OutSpec{"oldattr", "oldattr", "struct mq_attr", &kMqAttr, {}, "the queue's attributes before the call"},
};
constexpr std::array kMsgrcvOuts{
    OutSpec{"mtype", "msgp", "long", nullptr, Member{"", 0, 8, true, Decode::Int},
            "type of the message received (msgp->mtype)"},
};
constexpr std::array<std::int64_t, 3> kStatCmds{IPC_STAT, MSG_STAT, MSG_STAT_ANY};
constexpr std::array<std::int64_t, 2> kInfoCmds{IPC_INFO, MSG_INFO};
constexpr OutIf kOnlyStat{"cmd", 0xff, kStatCmds};
constexpr OutIf kOnlyInfo{"cmd", 0xff, kInfoCmds};
constexpr std::array kMsgctlOuts{
    OutSpec{"buf",
            "buf",
            "struct msqid_ds",
            &kMsqidDsOut,
            {},
            "the queue's description (IPC_STAT, MSG_STAT, MSG_STAT_ANY)",
            &kOnlyStat},
    OutSpec{"info",
            "buf",
            "struct msginfo",
            &kMsginfo,
            {},
            "system-wide limits and usage (IPC_INFO, MSG_INFO)",
            &kOnlyInfo},
};

// ---- probe points, in order of preference -------------------------------------
// Every call is anchored at a Reach::Boundary point: the syscall wrapper (4.17+,
// Conv::PtRegs: the planner adds the arch prefix __x64_sys_/__arm64_sys_) or
// sys_NAME before it. Those see every call, including the ones the wrapper
// rejects before any inner function runs (a bad timeout, an unreadable
// sigevent or mtype). Reach::Inner points add the kernel's own copies of
// user structs to the call their boundary opened, when the call gets there.

constexpr std::array kFetchMqOpenU{FetchItem{"name", 1, Load::UserString}, FetchItem{"oflag", 2, Load::Value},
                                   FetchItem{"mode", 3, Load::Value}, FetchItem{"attr", 4, Load::UserStruct}};
constexpr std::array kFetchMqOpenK{FetchItem{"attr", 4, Load::KernelStruct}};
// mq_open and mq_unlink look the queue up by the name getname() copied:
// lookup_one_len(name->name, root, len) (3.x to 6.15). Other callers of
// lookup_one_len fire it too; only a record inside a traced call is used.
constexpr std::array kFetchNameK{FetchItem{"name", 1, Load::KernelString}};
constexpr std::array kMqOpenPoints{
    ProbePoint{"mq_open", Conv::PtRegs, "s64", kFetchMqOpenU, "syscall wrapper, 4.17+"},
    ProbePoint{"sys_mq_open", Conv::Direct, "s64", kFetchMqOpenU, "before 4.17"},
    ProbePoint{"do_mq_open", Conv::Direct, "", kFetchMqOpenK, "4.13+: attr as the kernel copied it",
               Reach::Inner},
    ProbePoint{"lookup_one_len", Conv::Direct, "", kFetchNameK, "the name as the kernel copied it (to 6.15)",
               Reach::Inner},
};

constexpr std::array kFetchMqUnlink{FetchItem{"name", 1, Load::UserString}};
constexpr std::array kMqUnlinkPoints{
    ProbePoint{"mq_unlink", Conv::PtRegs, "s64", kFetchMqUnlink, "syscall wrapper, 4.17+"},
    ProbePoint{"sys_mq_unlink", Conv::Direct, "s64", kFetchMqUnlink, "before 4.17"},
    ProbePoint{"lookup_one_len", Conv::Direct, "", kFetchNameK, "the name as the kernel copied it (to 6.15)",
               Reach::Inner},
};

constexpr std::array kFetchSendU{FetchItem{"mqdes", 1, Load::Value}, FetchItem{"msg_ptr", 2, Load::Value},
                                 FetchItem{"msg_len", 3, Load::Value}, FetchItem{"msg_prio", 4, Load::Value},
                                 FetchItem{"abs_timeout", 5, Load::UserStruct}};
constexpr std::array kFetchTimeoutK{FetchItem{"abs_timeout", 5, Load::KernelStruct}};
constexpr std::array kMqTimedsendPoints{
    ProbePoint{"mq_timedsend", Conv::PtRegs, "s64", kFetchSendU, "syscall wrapper, 4.17+"},
    ProbePoint{"sys_mq_timedsend", Conv::Direct, "s64", kFetchSendU, "before 4.17"},
    ProbePoint{"do_mq_timedsend", Conv::Direct, "", kFetchTimeoutK,
               "4.13+: abs_timeout as the kernel copied it", Reach::Inner},
};
constexpr std::array kMqTimedreceivePoints{
    ProbePoint{"mq_timedreceive", Conv::PtRegs, "s64", kFetchSendU, "syscall wrapper, 4.17+"},
    ProbePoint{"sys_mq_timedreceive", Conv::Direct, "s64", kFetchSendU, "before 4.17"},
    ProbePoint{"do_mq_timedreceive", Conv::Direct, "", kFetchTimeoutK,
               "4.13+: abs_timeout as the kernel copied it", Reach::Inner},
};

constexpr std::array kFetchNotifyU{FetchItem{"mqdes", 1, Load::Value},
                                   FetchItem{"sevp", 2, Load::UserStruct}};
constexpr std::array kFetchNotifyK{FetchItem{"sevp", 2, Load::KernelStruct}};
constexpr std::array kMqNotifyPoints{
    ProbePoint{"mq_notify", Conv::PtRegs, "s64", kFetchNotifyU, "syscall wrapper, 4.17+"},
    ProbePoint{"sys_mq_notify", Conv::Direct, "s64", kFetchNotifyU, "before 4.17"},
    ProbePoint{"do_mq_notify", Conv::Direct, "", kFetchNotifyK, "4.13+: sevp as the kernel copied it",
               Reach::Inner},
};

constexpr std::array kFetchGetsetattr{FetchItem{"mqdes", 1, Load::Value},
                                      FetchItem{"newattr", 2, Load::UserStruct},
                                      FetchItem{"oldattr", 3, Load::Value}};
constexpr std::array kMqGetsetattrPoints{
    ProbePoint{"mq_getsetattr", Conv::PtRegs, "s64", kFetchGetsetattr, "syscall wrapper, 4.17+"},
    ProbePoint{"sys_mq_getsetattr", Conv::Direct, "s64", kFetchGetsetattr, "before 4.17"},
};

constexpr std::array kFetchMsgget{FetchItem{"key", 1, Load::Value}, FetchItem{"msgflg", 2, Load::Value}};
constexpr std::array kMsggetPoints{
    ProbePoint{"msgget", Conv::PtRegs, "s64", kFetchMsgget, "syscall wrapper, 4.17+"},
    ProbePoint{"sys_msgget", Conv::Direct, "s64", kFetchMsgget, "before 4.17"},
};

constexpr std::array kFetchMsgsndU{FetchItem{"msqid", 1, Load::Value}, FetchItem{"msgp", 2, Load::UserStruct},
                                   FetchItem{"msgsz", 3, Load::Value}, FetchItem{"msgflg", 4, Load::Value}};
constexpr std::array kFetchMsgsndK{FetchItem{"msgp", 2, Load::KernelMtype}};
constexpr std::array kMsgsndPoints{
    ProbePoint{"msgsnd", Conv::PtRegs, "s64", kFetchMsgsndU, "syscall wrapper, 4.17+"},
    ProbePoint{"sys_msgsnd", Conv::Direct, "s64", kFetchMsgsndU, "before 4.17"},
    ProbePoint{"do_msgsnd", Conv::Direct, "", kFetchMsgsndK, "mtype as the kernel copied it", Reach::Inner},
};

constexpr std::array kFetchMsgrcv{FetchItem{"msqid", 1, Load::Value}, FetchItem{"msgp", 2, Load::Value},
                                  FetchItem{"msgsz", 3, Load::Value}, FetchItem{"msgtyp", 4, Load::Value},
                                  FetchItem{"msgflg", 5, Load::Value}};
constexpr std::array kMsgrcvPoints{
    ProbePoint{"msgrcv", Conv::PtRegs, "s64", kFetchMsgrcv, "syscall wrapper, 4.17+"},
    ProbePoint{"sys_msgrcv", Conv::Direct, "s64", kFetchMsgrcv, "before 4.17"},
};

constexpr std::array kFetchMsgctl{FetchItem{"msqid", 1, Load::Value}, FetchItem{"cmd", 2, Load::Value},
                                  FetchItem{"buf", 3, Load::UserStruct}};
constexpr std::array kMsgctlPoints{
    ProbePoint{"msgctl", Conv::PtRegs, "s64", kFetchMsgctl,
               "syscall wrapper, 4.17+ (ksys_msgctl is a compiler clone on new kernels)"},
    ProbePoint{"sys_msgctl", Conv::Direct, "s64", kFetchMsgctl, "before 4.17"},
};

// What uprobes on the libc wrappers read (syscalls backend), in the caller's
// context: the names and the input structs. glibc passes name + 1 to the kernel.
constexpr std::array kLibcMqOpen{FetchItem{"name", 1, Load::UserString},
                                 FetchItem{"attr", 4, Load::UserStruct}};
constexpr std::array kLibcMqUnlink{FetchItem{"name", 1, Load::UserString}};
constexpr std::array kLibcTimeout{FetchItem{"abs_timeout", 5, Load::UserStruct}};
constexpr std::array kLibcMqNotify{FetchItem{"sevp", 2, Load::UserStruct}};
// mq_setattr(mqdes, newattr, oldattr); glibc's mq_getattr calls it with NULL.
constexpr std::array kLibcMqSetattr{FetchItem{"newattr", 2, Load::UserStruct}};
constexpr std::array kLibcMsgsnd{FetchItem{"msgp", 2, Load::UserStruct}};
constexpr std::array kLibcMsgctl{FetchItem{"buf", 3, Load::UserStruct}};

// ---- events ---------------------------------------------------------------------

constexpr std::array kEvents{
    EventSpec{"mq_open",
              Family::Posix,
              "mqd_t mq_open(const char *name, int oflag, mode_t mode, struct mq_attr *attr)",
              RetKind::Fd,
              kMqOpenArgs,
              kMqOpenPoints,
              "mq_open",
              kLibcMqOpen,
              "open or create a POSIX message queue",
              false,
              {},
              {},
              QueueSpec{"", "name"}},
    EventSpec{"mq_unlink", Family::Posix, "int mq_unlink(const char *name)", RetKind::Int, kMqUnlinkArgs,
              kMqUnlinkPoints, "mq_unlink", kLibcMqUnlink, "remove a POSIX message queue"},
    EventSpec{"mq_timedsend",
              Family::Posix,
              "int mq_timedsend(mqd_t mqdes, const char *msg_ptr, size_t msg_len, "
              "unsigned int msg_prio, const struct timespec *abs_timeout)",
              RetKind::Int,
              kMqTimedsendArgs,
              kMqTimedsendPoints,
              "mq_timedsend",
              kLibcTimeout,
              "send a message (also mq_send)",
              true,
              {},
              BodySpec{"msg_ptr", 0, "msg_len"},
              QueueSpec{"mqdes", ""}},
    EventSpec{"mq_timedreceive", Family::Posix,
              "ssize_t mq_timedreceive(mqd_t mqdes, char *msg_ptr, size_t msg_len, "
              "unsigned int *msg_prio, const struct timespec *abs_timeout)",
              RetKind::Size, kMqTimedreceiveArgs, kMqTimedreceivePoints, "mq_timedreceive", kLibcTimeout,
              "receive a message (also mq_receive)", true, kMqTimedreceiveOuts, BodySpec{"msg_ptr", 0, ""},
              QueueSpec{"mqdes", ""}},
    EventSpec{"mq_notify",
              Family::Posix,
              "int mq_notify(mqd_t mqdes, const struct sigevent *sevp)",
              RetKind::Int,
              kMqNotifyArgs,
              kMqNotifyPoints,
              "mq_notify",
              kLibcMqNotify,
              "register or remove a message-arrival notification",
              false,
              {},
              {},
              QueueSpec{"mqdes", ""}},
    EventSpec{"mq_getsetattr",
              Family::Posix,
              "int mq_getsetattr(mqd_t mqdes, const struct mq_attr *newattr, struct mq_attr "
              "*oldattr)",
              RetKind::Int,
              kMqGetsetattrArgs,
              kMqGetsetattrPoints,
              "mq_setattr",
              kLibcMqSetattr,
              "get or set queue attributes (mq_getattr, mq_setattr)",
              false,
              kMqGetsetattrOuts,
              {},
              QueueSpec{"mqdes", ""}},
    EventSpec{"msgget",
              Family::SysV,
              "int msgget(key_t key, int msgflg)",
              RetKind::Int,
              kMsggetArgs,
              kMsggetPoints,
              "",
              {},
              "get or create a System V message queue",
              false,
              {},
              {},
              QueueSpec{"", "key"}},
    EventSpec{"msgsnd",
              Family::SysV,
              "int msgsnd(int msqid, const void *msgp, size_t msgsz, int msgflg)",
              RetKind::Int,
              kMsgsndArgs,
              kMsgsndPoints,
              "msgsnd",
              kLibcMsgsnd,
              "send a System V message",
              true,
              {},
              BodySpec{"msgp", 8, "msgsz"},
              QueueSpec{"msqid", ""}},
    EventSpec{"msgrcv",
              Family::SysV,
              "ssize_t msgrcv(int msqid, void *msgp, size_t msgsz, long msgtyp, int msgflg)",
              RetKind::Size,
              kMsgrcvArgs,
              kMsgrcvPoints,
              "",
              {},
              "receive a System V message",
              true,
              kMsgrcvOuts,
              BodySpec{"msgp", 8, ""},
              QueueSpec{"msqid", ""}},
    EventSpec{"msgctl",
              Family::SysV,
              "int msgctl(int msqid, int cmd, struct msqid_ds *buf)",
              RetKind::Int,
              kMsgctlArgs,
              kMsgctlPoints,
              "msgctl",
              kLibcMsgctl,
              "control a System V message queue",
              false,
              kMsgctlOuts,
              {},
              QueueSpec{"msqid", ""}},
};

} // namespace

std::span<const EventSpec> catalog() { return kEvents; }

const EventSpec* find_event(std::string_view name) {
    for (const auto& ev : kEvents)
        if (ev.name == name) return &ev;
    return nullptr;
}

int event_index(const EventSpec& ev) { return static_cast<int>(&ev - kEvents.data()); }

const ArgRefs& arg_refs(int ev) {
    static const std::vector<ArgRefs> refs = [] {
        std::vector<ArgRefs> all;
        for (const EventSpec& e : kEvents) {
            ArgRefs& r = all.emplace_back();
            if (!e.queue.ref.empty()) r.queue_ref = arg_index(e, e.queue.ref);
            if (!e.queue.returned.empty()) r.queue_returned = arg_index(e, e.queue.returned);
            if (!e.body.ptr.empty()) r.body_ptr = arg_index(e, e.body.ptr);
            if (!e.body.len_arg.empty()) r.body_len = arg_index(e, e.body.len_arg);
            for (const OutSpec& o : e.outs) {
                r.out_ptr.push_back(arg_index(e, o.arg));
                r.out_when.push_back(o.when ? arg_index(e, o.when->arg) : -1);
            }
        }
        return all;
    }();
    return refs[static_cast<std::size_t>(ev)];
}

int arg_index(const EventSpec& ev, std::string_view arg) {
    for (std::size_t i = 0; i < ev.args.size(); ++i) {
        const std::string_view n = ev.args[i].name; // on the hot path: the first byte before memcmp
        if (n.size() == arg.size() && !n.empty() && n[0] == arg[0] && n == arg) return static_cast<int>(i);
    }
    return -1;
}

bool kernel_copied(const EventSpec& ev, std::string_view arg) {
    for (const ProbePoint& pt : ev.kprobe_points)
        if (pt.reach == Reach::Inner)
            for (const FetchItem& f : pt.fetch)
                if (f.arg == arg) return true;
    return false;
}

int out_index(const EventSpec& ev, std::string_view out) {
    for (std::size_t i = 0; i < ev.outs.size(); ++i)
        if (ev.outs[i].name == out) return static_cast<int>(i);
    return -1;
}

bool out_written(const OutSpec& o, std::int64_t ret, std::int64_t cond_value) {
    if (ret < 0) return false;
    if (!o.when) return true;
    for (const std::int64_t v : o.when->values)
        if ((cond_value & o.when->mask) == v) return true;
    return false;
}

const StructLayout* struct_layout(std::string_view ctype) {
    for (const auto* l : kLayouts)
        if (l->ctype == ctype) return l;
    return nullptr;
}

std::size_t max_struct_members() {
    std::size_t n = 1; // an output scalar is one member
    for (const auto* l : kLayouts)
        n = std::max(n, l->members.size());
    return n;
}

} // namespace mqtrace
