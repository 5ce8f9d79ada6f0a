// mqtrace under systemd, on this machine's kernel (kernel suite, as root):
//   - a journal round trip: a workload traced with -f journal (and recorded
//     with -w), the entries read back with journalctl -o json and compared
//     field by field, byte for byte, with what the recording decodes to
//     (-r FILE -f json and -f text) and with what the workload passed:
//     hostile bytes (control bytes, quotes, UTF-8, invalid UTF-8, NUL-free),
//     values read after the call only beside the argument;
//   - lost records as warnings, with counts that add up;
//   - the notify protocol: READY=1 only once "Tracing" is printed, STATUS=
//     with the counts, STOPPING=1, NOTIFY_SOCKET not passed to a command;
//   - a restart after kill -9 removes only the dead run's instance and probes,
//     while another run beside it goes on.
// Where no systemd-journald runs (no /run/systemd/journal/socket that
// answers), the test starts one itself, in a mount namespace of its own with
// /run and /var/log/journal on tmpfs: it dies with the test (PR_SET_PDEATHSIG)
// and leaves nothing behind. Nothing here skips: a missing tool fails.
#include "journal_expect.hpp"
#include "json.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using testjson::Value;

namespace {

const char* const kJournalSocket = "/run/systemd/journal/socket";
const char* const kNotInRecording = "not in the recording (read after the call by live runs only)";

std::string env(const char* name, const char* def = "") {
    const char* v = std::getenv(name);
    return v ? v : def;
}

std::string backend() { return env("MQTRACE_BACKEND", "syscalls"); }

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string tmpfile(const std::string& stem) {
    static int n = 0;
    return "/tmp/mqtrace-jtest-" + std::to_string(getpid()) + "-" + std::to_string(++n) + "-" + stem;
}

std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);)
        out.push_back(l);
    return out;
}

// A program on PATH (or an absolute path), or "" when there is none.
std::string which(const std::string& name) {
    if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
    std::istringstream path(env("PATH", "/usr/bin:/bin"));
    for (std::string d; std::getline(path, d, ':');)
        if (access((d + "/" + name).c_str(), X_OK) == 0) return d + "/" + name;
    return "";
}

// A child process with stdout and stderr going to files.
struct Child {
    pid_t pid = -1;
    int status_ = -1;
    std::string out, err;

    Child(const std::vector<std::string>& argv, const std::string& stem,
          const std::vector<std::string>& extra_env = {}) {
        out = tmpfile(stem + ".out");
        err = tmpfile(stem + ".err");
        pid = fork();
        if (pid == 0) {
            const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            dup2(o, 1);
            dup2(e, 2);
            const int n = open("/dev/null", O_RDONLY);
            dup2(n, 0);
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, nullptr);
            for (int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE})
                ::signal(s, SIG_DFL);
            for (const auto& kv : extra_env)
                putenv(const_cast<char*>(kv.c_str()));
            std::vector<char*> a;
            for (const auto& s : argv)
                a.push_back(const_cast<char*>(s.c_str()));
            a.push_back(nullptr);
            execv(a[0], a.data());
            _exit(127);
        }
    }
    ~Child() {
        if (running()) {
            kill(pid, SIGKILL);
            wait(10);
        }
        std::remove(out.c_str());
        std::remove(err.c_str());
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    int wait(double timeout_s = 60) {
        if (status_ >= 0 || pid <= 0) return status_;
        const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
        int st = 0;
        pid_t r;
        while ((r = waitpid(pid, &st, WNOHANG)) == 0) {
            if (std::chrono::steady_clock::now() > end) {
                kill(pid, SIGKILL);
                waitpid(pid, &st, 0);
                status_ = -1;
                return status_;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        status_ = r == pid ? (WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st)) : -1;
        return status_;
    }
    bool running() {
        if (status_ >= 0 || pid <= 0) return false;
        int st;
        if (waitpid(pid, &st, WNOHANG) != pid) return true;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return false;
    }
    void signal(int sig) {
        if (pid > 0 && status_ < 0) kill(pid, sig);
    }
    std::string stdout_text() const { return slurp(out); }
    std::string stderr_text() const { return slurp(err); }
    // Wait for "Tracing" on stderr (mqtrace is ready).
    ::testing::AssertionResult ready(double timeout_s = 120) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
        while (std::chrono::steady_clock::now() < end) {
            if (stderr_text().find("Tracing ") != std::string::npos) return ::testing::AssertionSuccess();
            if (!running()) return ::testing::AssertionFailure() << "mqtrace exited: " << stderr_text();
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return ::testing::AssertionFailure() << "mqtrace not ready: " << stderr_text();
    }
};

std::string mqtrace() { return env("MQTRACE_BIN", "mqtrace"); }
std::string workload() { return env("MQWORKLOAD", "mqworkload"); }

std::string hexs(const std::string& s) { return testjson::hex(s); }

// The text formatter's escaping of a name (mqtrace(8), Text): printable ASCII
// but '"' and '\' as is, \" \\ \n \t \r, everything else \xNN.
std::string text_escape(const std::string& s) {
    std::string o;
    static const char* d = "0123456789abcdef";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            o += '\\';
            o += static_cast<char>(c);
        } else if (c == '\n') {
            o += "\\n";
        } else if (c == '\t') {
            o += "\\t";
        } else if (c == '\r') {
            o += "\\r";
        } else if (c >= 0x20 && c < 0x7f) {
            o += static_cast<char>(c);
        } else {
            o += "\\x";
            o += d[c >> 4];
            o += d[c & 15];
        }
    }
    return o;
}

// ---- the journal: the system's, or one of our own -------------------------------------------

bool journal_answers() {
    const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", kJournalSocket);
    const bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0;
    close(fd);
    return ok;
}

pid_t g_journald = -1;
const long g_start = static_cast<long>(std::time(nullptr));
std::string g_journald_log;

class JournalEnvironment : public ::testing::Environment {
public:
    void SetUp() override {
        ASSERT_EQ(geteuid(), 0u) << "the systemd tests need root (they trace, and may start a journald)";
        ASSERT_NE(which("journalctl"), "") << "journalctl not found (Debian: systemd; scripts/deps --test)";
        if (journal_answers()) {
            std::cerr << "journal-test: using the running systemd-journald\n";
            return;
        }
        std::string journald;
        for (const char* p : {"/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald"})
            if (access(p, X_OK) == 0) journald = p;
        ASSERT_NE(journald, "") << "no systemd-journald runs and none is installed (Debian: systemd)";
        // A mount namespace of our own: /run and the persistent journal on
        // tmpfs, so that our journald's sockets and files vanish with us.
        ASSERT_EQ(unshare(CLONE_NEWNS), 0) << std::strerror(errno);
        ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0) << std::strerror(errno);
        ASSERT_EQ(mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755"), 0)
            << std::strerror(errno);
        if (std::filesystem::is_directory("/var/log/journal")) {
            ASSERT_EQ(mount("tmpfs", "/var/log/journal", "tmpfs", MS_NOSUID | MS_NODEV, "mode=2755"), 0)
                << std::strerror(errno);
        }
        g_journald_log = tmpfile("journald.log");
        g_journald = fork();
        if (g_journald == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            const int o = open(g_journald_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            dup2(o, 1);
            dup2(o, 2);
            execl(journald.c_str(), journald.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (!journal_answers() && std::chrono::steady_clock::now() < end)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ASSERT_TRUE(journal_answers()) << journald << " did not start: " << slurp(g_journald_log);
        std::cerr << "journal-test: started " << journald << " (pid " << g_journald
                  << ") in a mount namespace of its own\n";
    }
    void TearDown() override {
        if (g_journald > 0) {
            kill(g_journald, SIGTERM);
            int st;
            waitpid(g_journald, &st, 0);
            std::remove(g_journald_log.c_str());
        }
    }
};

// A journal field as journalctl -o json gives it: a string, or an array of
// byte values for a binary one (control bytes, invalid UTF-8).
std::string field_bytes(const Value& v) {
    if (v.type == Value::String) return v.text;
    if (v.type == Value::Array) {
        std::string out;
        for (const auto& b : v.items)
            out += static_cast<char>(b.i());
        return out;
    }
    if (v.is_null()) return "(null: too large without --all)";
    throw std::runtime_error("unexpected journal field value " + testjson::dump(v));
}

// The entries mqtrace process pid sent, in order, with the fields it gave
// (journald's own "_..." fields left out), once there are at least `want`.
std::vector<journalexpect::Fields> entries_of(pid_t pid, std::size_t want) {
    std::vector<journalexpect::Fields> out;
    std::size_t before = 0;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    do {
        before = out.size();
        out.clear();
        // This boot, since the test began (a system journal keeps older runs).
        Child j({which("journalctl"), "-o", "json", "--all", "--no-pager", "--quiet", "-b",
                 "--since=@" + std::to_string(g_start - 1), "_PID=" + std::to_string(pid),
                 "SYSLOG_IDENTIFIER=mqtrace"},
                "journalctl");
        EXPECT_EQ(j.wait(60), 0) << j.stderr_text();
        for (const auto& l : lines(j.stdout_text())) {
            const Value v = testjson::parse(l);
            journalexpect::Fields f;
            for (const auto& [k, x] : v.fields)
                if (k[0] != '_') f[k] = field_bytes(x);
            out.push_back(std::move(f));
        }
        if (out.size() >= want && out.size() == before) break; // and no more coming
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    } while (std::chrono::steady_clock::now() < end);
    return out;
}

class Systemd : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(std::filesystem::exists("/sys/kernel/tracing/README")) << "tracefs is not mounted";
    }
};

std::string tag() {
    return std::to_string(getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

} // namespace

// Three workloads, held until mqtrace is ready, then traced with -f journal and
// recorded with -w: every ten syscalls through libc (with --user-reads uprobe,
// every value read in the caller's context), a hostile name through libc (read
// at entry), and the same hostile name through syscall(2) (read after the call:
// it must be beside the argument, LATE). The entries equal, field by field,
// what the recording decodes to, and carry the bytes the workloads passed.
TEST_F(Systemd, JournalRoundTripEveryFieldExact) {
    const std::string go = tmpfile("go");
    const std::string hostile =
        "q \"x\\y\nz\x01red\x1b[31m\x7f\xff end \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xed\xa0\x80";
    const std::string raw_name = hostile + "-raw";
    Child a({workload(), "--wait-file", go, "--linger", "500", "all", tag()}, "a");
    Child b({workload(), "--wait-file", go, "--linger", "500", "open", hexs("/" + hostile)}, "b");
    Child c({workload(), "--raw", "--wait-file", go, "--linger", "500", "open", hexs("/" + raw_name)}, "c");
    const std::string rec = tmpfile("rec.mqt");
    Child t({mqtrace(), "--backend", backend(), "-f", "journal", "--user-reads", "uprobe", "-p",
             std::to_string(a.pid) + "," + std::to_string(b.pid) + "," + std::to_string(c.pid), "-w", rec,
             "--print"},
            "tracer");
    ASSERT_TRUE(t.ready());
    std::ofstream(go).put('x');
    ASSERT_EQ(a.wait(), 0) << a.stderr_text();
    ASSERT_EQ(b.wait(), 0) << b.stderr_text();
    ASSERT_EQ(c.wait(), 0) << c.stderr_text();
    std::filesystem::remove(go);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    t.signal(SIGINT);
    ASSERT_EQ(t.wait(), 0) << t.stderr_text();
    EXPECT_NE(t.stderr_text().find("22 calls traced, 22 written; lost events: 0"), std::string::npos)
        << t.stderr_text();
    EXPECT_EQ(t.stdout_text(), "") << "-f journal writes nothing on stdout";
    EXPECT_EQ(t.stderr_text().find("TIME "), std::string::npos) << "no column header with -f journal";

    Child rj({mqtrace(), "-r", rec, "-f", "json"}, "replay-json");
    Child rt({mqtrace(), "-r", rec, "-f", "text"}, "replay-text");
    ASSERT_EQ(rj.wait(), 0) << rj.stderr_text();
    ASSERT_EQ(rt.wait(), 0) << rt.stderr_text();
    const std::vector<std::string> json = lines(rj.stdout_text()), text = lines(rt.stdout_text());
    ASSERT_EQ(json.size(), 22u) << rj.stdout_text();
    ASSERT_EQ(text.size(), 22u);
    const std::vector<journalexpect::Fields> got = entries_of(t.pid, 22);
    ASSERT_EQ(got.size(), 22u) << "entries in the journal from mqtrace pid " << t.pid;

    int late = 0;
    for (std::size_t i = 0; i < json.size(); ++i) {
        SCOPED_TRACE("entry " + std::to_string(i) + ": " + json[i]);
        const Value j = testjson::parse(json[i]);
        journalexpect::Fields want = journalexpect::from_json(j);
        journalexpect::Fields have = got[i];
        std::string message = text[i];
        // What a live run read after the call, a recording cannot hold: there the
        // journal has it beside the argument (LATE), the recording a reason.
        for (const auto& [arg, info] : j["arg_info"].fields) {
            if (info["source"].s() != "user-late") continue;
            const std::string p = "MQTRACE_ARG_" + journalexpect::upper(arg);
            ASSERT_EQ(want[p + "_UNREADABLE"], kNotInRecording);
            want.erase(p + "_UNREADABLE");
            const std::string l = "MQTRACE_LATE_" + journalexpect::upper(arg);
            ASSERT_TRUE(have.count(l)) << "no " << l << " in the journal entry";
            EXPECT_EQ(arg, "name") << "only the raw workload's name is read after the call";
            want[l] = have[l];
            const std::string marker = std::string(" <unreadable: ") + kNotInRecording + ">";
            const auto at = message.find(marker);
            ASSERT_NE(at, std::string::npos) << message;
            message.replace(at, marker.size(), "~\"" + text_escape(have[l]) + "\"");
            ++late;
        }
        // Outputs likewise: read after the call by the live run (MQTRACE_LATE_OUT_*), not in a recording.
        std::string got_message = have["MESSAGE"];
        if (j.has("out_info"))
            for (const auto& [out, info] : j["out_info"].fields) {
                if (info["source"].s() != "user-late") continue;
                const std::string p = "MQTRACE_OUT_" + journalexpect::upper(out);
                ASSERT_EQ(want[p + "_UNREADABLE"], kNotInRecording);
                want.erase(p + "_UNREADABLE");
                const std::string l = "MQTRACE_LATE_OUT_" + journalexpect::upper(out);
                int n = 0;
                for (const auto& [k, v] : have)
                    if (k == l || k.rfind(l + "_", 0) == 0) {
                        want[k] = v;
                        ++n;
                    }
                EXPECT_GT(n, 0) << "no " << l << " in the journal entry";
                // The text: the recording's reason where the live run has the value.
                const auto at = message.find(" => ");
                ASSERT_NE(at, std::string::npos) << message;
                message.erase(at);
                const auto gat = got_message.find(" => ");
                ASSERT_NE(gat, std::string::npos) << got_message;
                EXPECT_NE(got_message.find(out + "~", gat), std::string::npos) << got_message;
                got_message.erase(gat);
            }
        have.erase("MESSAGE");
        EXPECT_EQ(have, want);
        EXPECT_EQ(got_message, message);
    }
    // The syscalls backend reads the raw workload's name after the call; the
    // kprobe backend at entry.
    const bool syscalls = backend() == "syscalls";
    EXPECT_EQ(late, syscalls ? 1 : 0);
    // And what the workloads passed, byte for byte.
    std::vector<const journalexpect::Fields*> of_a, of_b, of_c;
    for (const auto& e : got) {
        const std::string pid = e.at("MQTRACE_PID");
        (pid == std::to_string(a.pid) ? of_a : pid == std::to_string(b.pid) ? of_b : of_c).push_back(&e);
    }
    ASSERT_EQ(of_a.size(), 20u);
    ASSERT_EQ(of_b.size(), 1u);
    ASSERT_EQ(of_c.size(), 1u);
    EXPECT_EQ(of_b[0]->at("MQTRACE_ARG_NAME"), hostile);
    EXPECT_EQ(of_b[0]->at("MQTRACE_ARG_NAME_SOURCE"), "user-at-entry");
    EXPECT_EQ(of_b[0]->at("MQTRACE_ERRNO"), "ENOENT");
    EXPECT_EQ(of_b[0]->at("PRIORITY"), "5");
    if (syscalls) {
        EXPECT_EQ(of_c[0]->at("MQTRACE_LATE_NAME"), raw_name);
        EXPECT_EQ(of_c[0]->at("MQTRACE_ARG_NAME_SOURCE"), "user-late");
        EXPECT_EQ(of_c[0]->count("MQTRACE_ARG_NAME_UNREADABLE"), 0u);
        EXPECT_NE(of_c[0]->at("MQTRACE_ARG_NAME"), raw_name) << "a late read is never the argument";
    } else {
        EXPECT_EQ(of_c[0]->at("MQTRACE_ARG_NAME"), raw_name);
    }
    const std::vector<std::string> report = lines(a.stdout_text());
    ASSERT_EQ(report.size(), 20u);
    for (std::size_t i = 0; i < 20; ++i) {
        std::istringstream r(report[i]);
        std::string ev, ret, err;
        r >> ev >> ret >> err;
        const journalexpect::Fields& e = *of_a[i];
        EXPECT_EQ(e.at("MQTRACE_EVENT"), ev) << i;
        EXPECT_EQ(e.at("MQTRACE_COMM"), "mqworkload");
        EXPECT_EQ(e.at("MQTRACE_END"), "returned");
        if (err == "-") {
            EXPECT_EQ(e.at("MQTRACE_RET"), ret) << i;
            EXPECT_EQ(e.count("MQTRACE_ERRNO"), 0u);
            EXPECT_EQ(e.at("PRIORITY"), "6");
        } else {
            EXPECT_EQ(e.at("MQTRACE_ERRNO"), err) << i;
            EXPECT_EQ(e.at("PRIORITY"), "5");
        }
    }
    EXPECT_EQ(of_a[0]->at("MQTRACE_ARG_NAME"), "mqt-" + tag());
    EXPECT_EQ(of_a[0]->at("MQTRACE_ARG_ATTR_MQ_MAXMSG"), "4");
    EXPECT_EQ(of_a[0]->at("MQTRACE_ARG_ATTR_MQ_MSGSIZE"), "64");
    EXPECT_EQ(of_a[13]->at("MQTRACE_ARG_MSGP_MTYPE"), "42");
    EXPECT_EQ(of_a[2]->at("MQTRACE_ARG_ABS_TIMEOUT_TV_SEC"), "4102444800");
    std::filesystem::remove(rec);
}

// A flood into a tiny ring buffer while the reader is stopped: most records
// are lost. Each loss is one warning (PRIORITY=4) with its count, and calls
// made = complete calls + halves of calls + records lost, as in -f json.
TEST_F(Systemd, LostRecordsAreWarningsWithTheirCounts) {
    const std::string go = tmpfile("go");
    const int rounds = 20000;
    Child w({workload(), "--wait-file", go, "flood", tag(), std::to_string(rounds)}, "flood");
    Child t({mqtrace(), "--backend", backend(), "-f", "journal", "-p", std::to_string(w.pid), "--user-reads",
             "late", "--buffer-size", "8", "-e", "mq_unlink,msgget,msgrcv,msgctl", "--strict"},
            "tracer");
    ASSERT_TRUE(t.ready());
    t.signal(SIGSTOP);
    std::ofstream(go).put('x');
    ASSERT_EQ(w.wait(120), 0) << w.stderr_text();
    t.signal(SIGCONT);
    std::filesystem::remove(go);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    t.signal(SIGINT);
    ASSERT_EQ(t.wait(), 5) << "--strict: records were lost; " << t.stderr_text();
    const long made = 5L * rounds; // of the 9 calls of each round, these 5 are traced
    // The exit line: "N calls traced, N written; lost events: L in the stream".
    const std::string e = t.stderr_text();
    const auto at = e.find(" calls traced, ");
    ASSERT_NE(at, std::string::npos) << e;
    const long traced = std::atol(e.c_str() + e.rfind(' ', at - 1) + 1);
    const auto lp = e.find("lost events: ");
    ASSERT_NE(lp, std::string::npos);
    const long lost_reported = std::atol(e.c_str() + lp + 13);
    const std::vector<journalexpect::Fields> got = entries_of(t.pid, static_cast<std::size_t>(traced));
    long complete = 0, partial = 0, lost = 0, warnings = 0;
    for (const auto& f : got) {
        if (f.at("MQTRACE_EVENT") == "lost") {
            EXPECT_EQ(f.at("PRIORITY"), "4");
            ASSERT_TRUE(f.count("MQTRACE_COUNT")) << "a lost record without its count";
            EXPECT_GT(std::atol(f.at("MQTRACE_COUNT").c_str()), 0);
            lost += std::atol(f.at("MQTRACE_COUNT").c_str());
            EXPECT_NE(f.at("MESSAGE").find("events lost"), std::string::npos) << f.at("MESSAGE");
            EXPECT_NE(f.at("MQTRACE_WHERE"), "");
            ++warnings;
            continue;
        }
        EXPECT_EQ(f.at("MQTRACE_PID"), std::to_string(w.pid));
        EXPECT_NE(f.at("PRIORITY"), "4");
        if (f.at("MQTRACE_END") == "returned")
            ++complete;
        else
            ++partial;
    }
    EXPECT_GT(warnings, 0);
    EXPECT_GT(lost, 0) << "the flood lost nothing: the test proves nothing";
    EXPECT_EQ(complete + partial, traced);
    EXPECT_EQ(lost, lost_reported);
    const long records = 2 * complete + partial + lost;
    EXPECT_GE(records, 2 * made) << "calls vanished";
    EXPECT_LE(records, 2 * made + 3) << "more records than the workload made";
}

// systemd's notify protocol, with a socket of our own as NOTIFY_SOCKET.
TEST_F(Systemd, NotifyReadyStatusStopping) {
    const std::string path = tmpfile("notify.sock");
    const int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(s, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
    ASSERT_EQ(bind(s, reinterpret_cast<const sockaddr*>(&sa), sizeof sa), 0) << std::strerror(errno);
    auto next = [&](int timeout_s) {
        char buf[4096];
        timeval tv{timeout_s, 0};
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        const ssize_t n = recv(s, buf, sizeof buf, 0);
        return n < 0 ? std::string() : std::string(buf, static_cast<std::size_t>(n));
    };
    // A command traced: it must not see NOTIFY_SOCKET (only the main process speaks to systemd).
    const std::string go = tmpfile("go");
    Child t({mqtrace(), "--backend", backend(), "-f", "journal", "-e", "mq_open", "--", "/bin/sh", "-c",
             "echo \"NOTIFY_SOCKET=${NOTIFY_SOCKET-unset}\"; while [ ! -e " + go + " ]; do sleep 0.05; done"},
            "tracer", {"NOTIFY_SOCKET=" + path});
    const std::string ready = next(120);
    // READY=1 comes once "Tracing" has been printed (it is sent right after).
    const std::string err_at_ready = t.stderr_text();
    EXPECT_EQ(ready.rfind("READY=1\nSTATUS=Tracing 1 syscalls (", 0), 0u) << ready;
    EXPECT_NE(ready.find(" backend): 0 calls, 0 written, 0 lost"), std::string::npos) << ready;
    EXPECT_NE(err_at_ready.find("Tracing 1 message-queue syscalls"), std::string::npos) << err_at_ready;
    // The status every 5 seconds.
    const auto t0 = std::chrono::steady_clock::now();
    const std::string status = next(10);
    const double after = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(status.rfind("STATUS=Tracing 1 syscalls (", 0), 0u) << status;
    EXPECT_NE(status.find(" calls, "), std::string::npos) << status;
    EXPECT_GE(after, 3.5);
    EXPECT_LE(after, 7.0);
    std::ofstream(go).put('x');
    EXPECT_EQ(t.wait(), 0) << t.stderr_text();
    std::filesystem::remove(go);
    std::string stopping;
    for (std::string m; (m = next(5)) != "";)
        if (m.find("STOPPING=1") != std::string::npos) stopping = m;
    EXPECT_EQ(stopping.rfind("STOPPING=1\nSTATUS=Stopping: ", 0), 0u) << stopping;
    EXPECT_EQ(t.stdout_text(), "NOTIFY_SOCKET=unset\n");
    close(s);
    std::filesystem::remove(path);
}

// Two runs side by side (as two units would be), one of them killed with
// SIGKILL: the next start removes what the dead run left, and only that; the
// other run goes on tracing.
TEST_F(Systemd, RestartAfterKillRemovesOnlyTheDeadRunsState) {
    Child keep({mqtrace(), "--backend", backend(), "-f", "json", "-e", "mq_unlink"}, "keep");
    Child dead({mqtrace(), "--backend", backend(), "-f", "json", "-e", "msgget"}, "dead");
    ASSERT_TRUE(keep.ready());
    ASSERT_TRUE(dead.ready());
    dead.signal(SIGKILL);
    dead.wait();
    const std::string inst = "/sys/kernel/tracing/instances/mqtrace_";
    ASSERT_TRUE(std::filesystem::exists(inst + std::to_string(dead.pid))) << "SIGKILL left its instance";
    Child next({mqtrace(), "--backend", backend(), "-f", "json", "-e", "msgget"}, "next");
    ASSERT_TRUE(next.ready());
    const std::string e = next.stderr_text();
    EXPECT_NE(e.find("removed instance mqtrace_" + std::to_string(dead.pid) + "\n"), std::string::npos) << e;
    EXPECT_EQ(e.find("mqtrace_" + std::to_string(keep.pid) + "\n"), std::string::npos) << e;
    EXPECT_EQ(e.find("mqtrace_" + std::to_string(keep.pid) + "/"), std::string::npos) << e;
    EXPECT_FALSE(std::filesystem::exists(inst + std::to_string(dead.pid)));
    EXPECT_TRUE(std::filesystem::exists(inst + std::to_string(keep.pid)));
    // The run beside it still traces: the workload's two mq_unlink calls.
    Child w({workload(), "--linger", "300", "all", tag()}, "w");
    ASSERT_EQ(w.wait(), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    keep.signal(SIGINT);
    next.signal(SIGINT);
    EXPECT_EQ(keep.wait(), 0) << keep.stderr_text();
    EXPECT_EQ(next.wait(), 0) << next.stderr_text();
    int unlinks = 0;
    for (const auto& l : lines(keep.stdout_text())) {
        const Value v = testjson::parse(l);
        if (v["event"].s() == "mq_unlink" && !v["pid"].is_null() && v["pid"].i() == w.pid) ++unlinks;
    }
    EXPECT_EQ(unlinks, 2) << keep.stdout_text();
    EXPECT_FALSE(std::filesystem::exists(inst + std::to_string(keep.pid)));
    EXPECT_FALSE(std::filesystem::exists(inst + std::to_string(next.pid)));
}

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new JournalEnvironment);
    return RUN_ALL_TESTS();
}
