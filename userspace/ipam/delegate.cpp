#include "ipam/delegate.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "cni/error.h"
#include "common/system_error.h"
#include "common/unique_fd.h"

extern char** environ;

namespace shuttle::ipam {

namespace {

struct Pipe {
    UniqueFd read, write;
};

Pipe make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) < 0)
        throw_errno("pipe");
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::vector<std::string> environment_for(const std::string& command,
                                         std::map<std::string, std::string> overrides) {
    overrides["CNI_COMMAND"] = command;
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string entry(*e);
        auto name = entry.substr(0, entry.find('='));
        if (!overrides.count(name))
            env.push_back(entry);
    }
    for (const auto& [name, value] : overrides) {
        if (!value.empty())
            env.push_back(name + "=" + value);
    }
    return env;
}

pid_t spawn(const std::string& path, const std::vector<std::string>& env, int stdin_fd,
            int stdout_fd) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
    posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
    std::vector<char*> envp;
    for (const auto& e : env)
        envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
    pid_t pid = -1;
    int err = 0;
    // libcni retries "text file busy" (a binary being written as it is run).
    for (int attempt = 0; attempt < 5; ++attempt) {
        err = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv, envp.data());
        if (err != ETXTBSY)
            break;
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0)
        throw system_error(err, "exec " + path);
    return pid;
}

void write_all(int fd, const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EPIPE)
                return;  // the delegate did not read its stdin
            throw_errno("write to delegate");
        }
        done += static_cast<size_t>(n);
    }
}

std::string read_all(int fd) {
    std::string out;
    char buf[4096];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw_errno("read from delegate");
        }
        if (n == 0)
            break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

int wait_for(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            throw_errno("waitpid");
    }
    return status;
}

[[noreturn]] void throw_delegate_error(const std::string& path, const std::string& output,
                                       int status) {
    try {
        auto error = parse_json(output);
        if (error.is_object() && error.contains("code") && error["code"].is_number_integer()) {
            throw cni::Error(error["code"].get<int>(), error.value("msg", ""),
                             error.value("details", ""));
        }
    } catch (const nlohmann::json::exception&) {
    }
    throw cni::Error(
        cni::kDelegateFailure, "delegated plugin failed",
        path + " exited with status " + std::to_string(WEXITSTATUS(status)) + ": " + output);
}

}  // namespace

std::string find_plugin(const std::string& type, const std::string& cni_path) {
    if (type.empty() || type.find('/') != std::string::npos) {
        throw cni::Error(cni::kInvalidConfig, "invalid network config: ipam.type",
                         "\"" + type + "\" is not a plugin name");
    }
    size_t start = 0;
    while (start <= cni_path.size()) {
        size_t end = cni_path.find(':', start);
        if (end == std::string::npos)
            end = cni_path.size();
        auto dir = cni_path.substr(start, end - start);
        if (!dir.empty()) {
            auto candidate = dir + "/" + type;
            struct stat st {};
            if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
                ::access(candidate.c_str(), X_OK) == 0) {
                return candidate;
            }
        }
        start = end + 1;
    }
    throw cni::Error(cni::kInvalidConfig, "invalid network config: ipam.type",
                     "failed to find plugin \"" + type + "\" in path [" + cni_path + "]");
}

std::string exec_plugin(const std::string& path, const std::string& command,
                        const std::string& stdin_text,
                        const std::map<std::string, std::string>& overrides) {
    // A delegate that exits without reading stdin must not kill us with SIGPIPE.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    struct sigaction previous {};
    ::sigaction(SIGPIPE, &ignore, &previous);

    auto in = make_pipe();
    auto out = make_pipe();
    pid_t pid = spawn(path, environment_for(command, overrides), in.read.get(), out.write.get());
    in.read.reset();
    out.write.reset();
    write_all(in.write.get(), stdin_text);
    in.write.reset();
    auto output = read_all(out.read.get());
    int status = wait_for(pid);
    ::sigaction(SIGPIPE, &previous, nullptr);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return output;
    throw_delegate_error(path, output, status);
}

bool plugin_supports(const std::string& path, const std::string& version) {
    try {
        auto answer = parse_json(
            exec_plugin(path, "VERSION", dump_json(nlohmann::json{{"cniVersion", version}})));
        for (const auto& v : answer.value("supportedVersions", nlohmann::json::array())) {
            if (v.is_string() && v.get<std::string>() == version)
                return true;
        }
    } catch (const std::exception&) {
    }
    return false;
}

}  // namespace shuttle::ipam
