// The event catalog: the ten message-queue syscalls, their arguments, how each
// argument is decoded, and where each can be probed on each kind of kernel.
// This is data, written once; the CLI, decoder, formatters, --list and the man
// page agreement test all read it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace mqtrace {

// Argument tags, as documented in mqtrace(8).
enum Tag : unsigned {
    kTagK = 1,      // value read from kernel memory (a copy the kernel already made)
    kTagU = 2,      // value read from user memory
    kTagTOCTOU = 4, // user memory the caller can change before the kernel reads it
    kTagOPT = 8,    // pointer that may be NULL
};

// How an argument or struct member is rendered.
enum class Decode {
    Int,         // signed decimal
    UInt,        // unsigned decimal
    Ptr,         // address, hex (NULL when 0)
    Fd,          // message queue descriptor
    Name,        // NUL-terminated queue name
    OpenFlags,   // O_RDWR|O_CREAT|...
    Mode,        // octal permission bits
    MqFlags,     // mq_attr.mq_flags: O_NONBLOCK or 0
    Signal,      // signal number: SIGUSR1
    SigevNotify, // SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_THREAD_ID
    IpcKey,      // IPC_PRIVATE or 0x... key
    MsggetFlags, // IPC_CREAT|IPC_EXCL|0600
    MsgFlags,    // IPC_NOWAIT|MSG_NOERROR|MSG_EXCEPT|MSG_COPY
    MsgctlCmd,   // IPC_64|IPC_STAT
    Struct,      // pointer to a struct, decoded member by member (see StructLayout)
};

// How the return value is rendered.
enum class RetKind { Fd, Int, Size };

struct Member {
    std::string_view name;
    std::uint16_t offset; // bytes from the start of the struct (x86_64/arm64 LP64 layout)
    std::uint8_t size;    // 2, 4 or 8
    bool is_signed;
    Decode decode;
};

struct StructLayout {
    std::string_view ctype;
    std::uint16_t size;
    std::span<const Member> members;
};

// An argument that is input only for some values of another (msgctl's buf is
// read by the kernel for IPC_SET, written for IPC_STAT): decoded only when
// (value of arg & mask) == value.
struct InputIf {
    std::string_view arg;
    std::int64_t mask;
    std::int64_t value;
};

// Commands for which an output is written (msgctl's buf: IPC_STAT, MSG_STAT...):
// (value of arg & mask) is one of values.
struct OutIf {
    std::string_view arg;
    std::int64_t mask;
    std::span<const std::int64_t> values;
};

// An output parameter: what the kernel writes through a pointer argument when
// the call succeeds (ret >= 0). Shown beside the arguments, never as one.
struct OutSpec {
    std::string_view name;      // key in "out": msg_prio, oldattr, mtype, buf, info
    std::string_view arg;       // the pointer argument it is written through
    std::string_view ctype;     // C type of what is written there
    const StructLayout* layout; // a struct; nullptr: the scalar below
    Member scalar;              // layout == nullptr: the value at the pointer (offset from it, size, sign)
    std::string_view doc;       // one line for mqtrace(8) and --list
    const OutIf* when = nullptr;
    // Bytes the kernel writes there: the struct, or the scalar's end.
    std::size_t size() const { return layout ? layout->size : scalar.offset + scalar.size; }
};

// A message body (--payload): the bytes at a pointer argument (plus an
// offset: msgsnd/msgrcv's mtext after mtype), sent (length: an argument) or
// received (length: the return value).
struct BodySpec {
    std::string_view ptr;     // the pointer argument ("" : no body)
    std::uint8_t offset = 0;  // bytes from the pointer to the body
    std::string_view len_arg; // sent: the argument holding the length; "" : received, ret bytes
    bool received() const { return len_arg.empty(); }
};

// Descriptor context (QueueContext): the argument a call names its queue by
// (mqdes, msqid), or, for a call whose return value is a new reference to a
// queue (mq_open's descriptor, msgget's identifier), the argument that says
// which queue (its name, its key).
struct QueueSpec {
    std::string_view ref;      // "" : the call names no queue this way
    std::string_view returned; // "" : the return value is no reference
};

struct ArgSpec {
    std::string_view name;  // as in the syscall prototype (man 2)
    std::string_view ctype; // C type at the syscall boundary
    Decode decode;
    unsigned tags;              // at the syscall boundary (user pointers: U|TOCTOU)
    const StructLayout* layout; // for Decode::Struct
    std::string_view ktype;     // probe fetch type for the raw value: s32, u64, x64...
    std::string_view doc;       // one line for mqtrace(8) and --list
    const InputIf* input_if = nullptr;
};

// Where an argument comes from at a probe point.
enum class Load {
    Value,        // the register/argument itself
    UserString,   // NUL-terminated string in user memory at that address
    KernelStruct, // struct in kernel memory (a copy the kernel made)
    UserStruct,   // struct in user memory (TOCTOU)
    KernelMtype,  // do_msgsnd: mtype already copied by the kernel; mtext pointer follows
    KernelString, // NUL-terminated string in kernel memory (the kernel's copy of a name)
};

// How the probed function receives its arguments.
enum class Conv {
    Direct, // C calling convention: arg N in the Nth argument register
    PtRegs, // syscall wrapper taking struct pt_regs * (x86_64 >= 4.17, arm64 >= 4.19)
};

struct FetchItem {
    std::string_view arg; // catalog argument name
    std::uint8_t pos;     // 1-based argument position at the probe point
    Load load;
};

// What a probe point sees of the calls.
enum class Reach {
    Boundary, // the syscall's entry point: every call, whatever its outcome (entry and return probed here)
    Inner,    // a function the call reaches only past the wrapper's checks, where the kernel's own
              // copies of the arguments are: adds values to the call its boundary probe opened
};

// One candidate probe point for an event, with the symbols it needs.
struct ProbePoint {
    std::string_view symbol;
    Conv conv;
    std::string_view ret_type; // s32 or s64: the function's return type (boundary points)
    std::span<const FetchItem> fetch;
    std::string_view note; // why this point (shown in --dry-run and the man page)
    Reach reach = Reach::Boundary;
};

enum class Family { Posix, SysV };

struct EventSpec {
    std::string_view name;
    Family family;
    std::string_view prototype; // for the man page
    RetKind ret;
    std::span<const ArgSpec> args;
    std::span<const ProbePoint> kprobe_points; // in order of preference
    std::string_view libc_symbol;              // libc wrapper probed by uprobes (syscalls backend), or empty
    std::span<const FetchItem> libc_fetch;     // what the uprobe reads there, in the caller's context
    std::string_view doc;
    bool per_message = false; // called once per message: a uprobe there costs the most (--user-reads auto)
    std::span<const OutSpec> outs = {}; // output parameters
    BodySpec body = {};                 // the message body, sent or received
    QueueSpec queue = {};               // descriptor context
};

std::span<const EventSpec> catalog();
const EventSpec* find_event(std::string_view name);
int event_index(const EventSpec& ev);
int arg_index(const EventSpec& ev, std::string_view arg); // -1 if absent
int out_index(const EventSpec& ev, std::string_view out); // -1 if absent
// The arguments an event's specs name (queue, body, outputs), as indices,
// resolved once: what the hot path asks for every call (-1: none).
struct ArgRefs {
    int queue_ref = -1, queue_returned = -1; // QueueSpec
    int body_ptr = -1, body_len = -1;        // BodySpec
    std::vector<int> out_ptr;                // parallel to outs: OutSpec::arg
    std::vector<int> out_when;               // parallel to outs: OutSpec::when->arg
};
const ArgRefs& arg_refs(int ev);
// An inner probe point of the event reads the kernel's own copy of the argument
// (kprobe backend): where it can be checked against the caller's (TOCTOU verified).
bool kernel_copied(const EventSpec& ev, std::string_view arg);
// The output is written by this call: it succeeded, and (msgctl) its command writes it.
bool out_written(const OutSpec& o, std::int64_t ret, std::int64_t cond_value);
const StructLayout* struct_layout(std::string_view ctype);
// The most members of any layout: what a decoded struct's members vector is
// given once (a recycled value then holds any struct without allocating).
std::size_t max_struct_members();

} // namespace mqtrace
