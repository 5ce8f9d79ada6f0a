// Task table: thread id -> process id and command name. Fed in trace order by the
// task lifecycle tracepoints (task_newtask, task_rename, sched_process_exit), so
// short-lived processes are attributed correctly; threads that existed before the
// trace started are looked up in /proc once.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace mqtrace {

struct TaskInfo {
    int pid = -1;     // thread group id; -1 unknown
    std::string comm; // "" unknown
    long uid = -1;    // real user id, looked up only when asked (-u); -1 unknown
};

class TaskTable {
public:
    explicit TaskTable(bool use_proc) : use_proc_(use_proc) {}
    void on_new(int parent_tid, int child_tid, const std::string& comm, std::uint64_t clone_flags);
    void on_rename(int tid, const std::string& comm);
    void on_exit(int tid);
    const TaskInfo& lookup(int tid);
    // The thread's real uid: from /proc the first time, inherited from the
    // parent by threads and processes created during the trace. -1 unknown.
    long uid(int tid);
    void track_uids() { uids_ = true; } // -u: look up each parent's uid when it creates a task
    bool tracks_uids() const { return uids_; }
    // A set*uid call returned 0: ruid is the new real uid (-1: unchanged);
    // setuid(2) changes it only for a privileged caller (taken as uid 0).
    void on_setuid(int tid, std::int64_t ruid, bool only_if_root);
    // A thread known from elsewhere (a recording's snapshot of /proc).
    void seed(int tid, int pid, const std::string& comm) { tasks_[tid] = TaskInfo{pid, comm}; }
    // Every thread alive now, from /proc: (tid, pid, comm).
    static std::vector<TaskInfo> snapshot(std::vector<int>& tids);

private:
    bool use_proc_;
    bool uids_ = false;
    std::unordered_map<int, TaskInfo> tasks_;
};

} // namespace mqtrace
