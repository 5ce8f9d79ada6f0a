// The traced command. See include/mqtrace/command.hpp.
#include "mqtrace/command.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace mqtrace {

std::string find_command(const std::string& name, int& err) {
    auto usable = [&](const std::string& path) {
        struct stat st {};
        if (stat(path.c_str(), &st) != 0) {
            err = errno;
            return false;
        }
        if (S_ISDIR(st.st_mode) || access(path.c_str(), X_OK) != 0) {
            err = EACCES;
            return false;
        }
        return true;
    };
    err = ENOENT;
    if (name.empty()) return {};
    if (name.find('/') != std::string::npos) return usable(name) ? name : std::string();
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
    int first_err = ENOENT;
    for (std::string dir; std::getline(dirs, dir, ':');) {
        const std::string p = (dir.empty() ? "." : dir) + "/" + name;
        if (usable(p)) return p;
        if (err == EACCES) first_err = EACCES; // found but not runnable: say so if nothing else is
    }
    err = first_err;
    return {};
}

Command::Command(const std::vector<std::string>& argv) : argv_(argv) {
    int err = 0;
    if (find_command(argv.at(0), err).empty())
        throw std::runtime_error("cannot run '" + argv[0] + "': " +
                                 (err == ENOENT ? std::string("command not found") : std::strerror(err)));
    int go[2], fail[2];
    if (pipe2(go, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    if (pipe2(fail, O_CLOEXEC) != 0) {
        close(go[0]);
        close(go[1]);
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    }
    std::vector<char*> cargv;
    for (auto& a : argv_)
        cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_ = fork();
    if (pid_ < 0) {
        const int e = errno;
        for (int fd : {go[0], go[1], fail[0], fail[1]})
            close(fd);
        throw std::runtime_error(std::string("cannot start the command: fork: ") + std::strerror(e));
    }
    if (pid_ == 0) {
        // The child: undo what mqtrace set for itself (blocked signals, an
        // ignored SIGPIPE survive exec), wait for the go, then exec.
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        close(go[1]);
        close(fail[0]);
        char c = 0;
        ssize_t n;
        while ((n = read(go[0], &c, 1)) < 0 && errno == EINTR) {
        }
        if (n != 1) _exit(127); // mqtrace gave up: never run untraced
        execvp(cargv[0], cargv.data());
        const int e = errno;
        [[maybe_unused]] const ssize_t w = write(fail[1], &e, sizeof e);
        _exit(e == ENOENT ? 127 : 126);
    }
    close(go[0]);
    close(fail[1]);
    go_fd_ = go[1];
    err_fd_ = fail[0];
}

Command::~Command() {
    if (pid_ > 0 && !released_) {
        kill(pid_, SIGKILL);
        reap(true);
    }
    if (go_fd_ >= 0) close(go_fd_);
    if (err_fd_ >= 0) close(err_fd_);
}

void Command::go() {
    if (released_) return;
    const char c = 'g';
    ssize_t n;
    while ((n = write(go_fd_, &c, 1)) < 0 && errno == EINTR) {
    }
    close(go_fd_);
    go_fd_ = -1;
    released_ = true;
}

bool Command::reap(bool block) {
    if (ended_ || pid_ <= 0) return ended_;
    int st = 0;
    pid_t r;
    while ((r = waitpid(pid_, &st, block ? 0 : WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r != pid_) return false;
    ended_ = true;
    status_ = st;
    int e = 0;
    if (err_fd_ >= 0 && read(err_fd_, &e, sizeof e) == static_cast<ssize_t>(sizeof e))
        exec_error_ = "cannot run '" + argv_[0] + "': " + std::strerror(e);
    return true;
}

int Command::exit_status() const {
    if (WIFEXITED(status_)) return WEXITSTATUS(status_);
    if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
    return 1;
}

void Command::signal(int sig) const {
    if (pid_ > 0 && !ended_) kill(pid_, sig);
}

} // namespace mqtrace
