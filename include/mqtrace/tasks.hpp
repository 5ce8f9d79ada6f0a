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
};

class TaskTable {
public:
    explicit TaskTable(bool use_proc) : use_proc_(use_proc) {}
    void on_new(int parent_tid, int child_tid, const std::string& comm, std::uint64_t clone_flags);
    void on_rename(int tid, const std::string& comm);
    void on_exit(int tid);
    const TaskInfo& lookup(int tid);
    // A thread known from elsewhere (a recording's snapshot of /proc).
    void seed(int tid, int pid, const std::string& comm) { tasks_[tid] = TaskInfo{pid, comm}; }
    // Every thread alive now, from /proc: (tid, pid, comm).
    static std::vector<TaskInfo> snapshot(std::vector<int>& tids);

private:
    bool use_proc_;
    std::unordered_map<int, TaskInfo> tasks_;
};

} // namespace mqtrace
