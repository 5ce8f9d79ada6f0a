// Task attribution. See include/mqtrace/tasks.hpp.
#include "mqtrace/tasks.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace mqtrace {
namespace {
constexpr std::uint64_t kCloneThread = 0x00010000;

TaskInfo from_proc(int tid) {
    TaskInfo t;
    std::ifstream st("/proc/" + std::to_string(tid) + "/status");
    for (std::string line; std::getline(st, line);) {
        if (line.rfind("Name:\t", 0) == 0) t.comm = line.substr(6);
        if (line.rfind("Tgid:\t", 0) == 0) t.pid = std::stoi(line.substr(6));
        if (line.rfind("Uid:\t", 0) == 0) {
            t.uid = std::stol(line.substr(5));
            break;
        }
    }
    return t;
}
} // namespace

std::vector<TaskInfo> TaskTable::snapshot(std::vector<int>& tids) {
    std::vector<TaskInfo> out;
    tids.clear();
    std::error_code ec;
    for (const auto& p : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string pid = p.path().filename().string();
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        std::error_code ec2;
        for (const auto& t : std::filesystem::directory_iterator(p.path() / "task", ec2)) {
            const int tid = std::atoi(t.path().filename().c_str());
            std::ifstream c(t.path() / "comm");
            std::string comm;
            std::getline(c, comm);
            if (!c && comm.empty()) continue;
            tids.push_back(tid);
            out.push_back(TaskInfo{std::atoi(pid.c_str()), comm});
        }
    }
    return out;
}

void TaskTable::on_new(int parent_tid, int child_tid, const std::string& comm, std::uint64_t clone_flags) {
    TaskInfo t;
    t.comm = comm;
    if (uids_) uid(parent_tid);
    const TaskInfo& parent = lookup(parent_tid);
    t.pid = (clone_flags & kCloneThread) ? parent.pid : child_tid;
    t.uid = parent.uid; // credentials are copied at fork
    tasks_[child_tid] = std::move(t);
}

void TaskTable::on_rename(int tid, const std::string& comm) {
    auto& t = tasks_[tid];
    if (t.pid < 0) {
        TaskInfo p = use_proc_ ? from_proc(tid) : TaskInfo{};
        t.pid = p.pid;
    }
    t.comm = comm;
}

void TaskTable::on_exit(int tid) { tasks_.erase(tid); }

void TaskTable::on_setuid(int tid, std::int64_t ruid, bool only_if_root) {
    if (ruid < 0 || ruid == 0xffffffff) return;
    if (only_if_root && uid(tid) != 0) return;
    tasks_[tid].uid = static_cast<long>(ruid);
}

long TaskTable::uid(int tid) {
    TaskInfo& t = tasks_[tid];
    if (t.uid < 0 && use_proc_) {
        const TaskInfo p = from_proc(tid);
        t.uid = p.uid;
        if (t.pid < 0) t.pid = p.pid;
    }
    return t.uid;
}

const TaskInfo& TaskTable::lookup(int tid) {
    auto it = tasks_.find(tid);
    if (it != tasks_.end()) return it->second;
    TaskInfo t = use_proc_ ? from_proc(tid) : TaskInfo{};
    return tasks_.emplace(tid, std::move(t)).first->second;
}

} // namespace mqtrace
