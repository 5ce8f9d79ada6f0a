// -- COMMAND [ARGS]: the command is started at once but held before exec
// until tracing is live (so its first call is seen), then released. Its
// standard input, output and error are mqtrace's. RAII: a command never
// released is killed and reaped.
#pragma once

#include <string>
#include <vector>

namespace mqtrace {

class Command {
public:
    // Throws std::runtime_error (naming the command) if it cannot be found or started.
    explicit Command(const std::vector<std::string>& argv);
    ~Command();
    Command(const Command&) = delete;
    Command& operator=(const Command&) = delete;

    int pid() const { return pid_; }
    void go(); // let it run
    // Reap it if it has ended (blocking: wait for it). True once it has ended.
    bool reap(bool block = false);
    bool ended() const { return ended_; }
    // Like a shell's $?: its exit code, or 128+N if signal N ended it; 127
    // (not found) or 126 (not executable) if exec failed.
    int exit_status() const;
    const std::string& exec_error() const { return exec_error_; } // "" if exec succeeded
    void signal(int sig) const;

private:
    std::vector<std::string> argv_;
    int pid_ = -1;
    int go_fd_ = -1;  // write end: one byte lets the child exec
    int err_fd_ = -1; // read end: the child's errno if exec failed (close-on-exec: EOF on success)
    bool released_ = false, ended_ = false;
    int status_ = 0;
    std::string exec_error_;
};

// Where execvp would find name ("" if nowhere), and why not (errno).
std::string find_command(const std::string& name, int& err);

} // namespace mqtrace
