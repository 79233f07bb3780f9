#pragma once

// A real etcd (Debian's etcd-server) for tests: 127.0.0.1 only, free ports picked here, data in
// a temporary folder, stopped by its PID on destruction (and killed with the test process via
// PR_SET_PDEATHSIG). Optional TLS with a CA, server and client certificate made by openssl.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"
#include "etcd/client.h"

namespace shuttle::test {

// A random free port below the kernel's ephemeral range (32768-60999): a port from that
// range, free now, can become some connection's local port (tests run in parallel) before
// etcd binds it, or while a test has etcd stopped.
inline sockaddr_in loopback_address(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    return addr;
}

inline int free_local_port() {
    std::random_device random;
    for (int attempt = 0; attempt < 1000; ++attempt) {
        int port = 20000 + static_cast<int>(random() % 12000);
        UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in addr = loopback_address(port);
        if (fd && bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
            return port;
        }
    }
    throw std::runtime_error("cannot pick a free port");
}

inline std::string make_temp_dir(const char* tag) {
    std::string pattern = std::string("/tmp/shuttle-") + tag + ".XXXXXX";
    if (!mkdtemp(pattern.data())) {
        throw std::runtime_error("mkdtemp failed");
    }
    return pattern;
}

struct TestCertificates {
    std::string dir;
    std::string ca, server_cert, server_key, client_cert, client_key;

    // CA + server certificate for 127.0.0.1 + client certificate, all EC P-256, valid 1 day.
    explicit TestCertificates(const std::string& folder) : dir(folder) {
        ca = dir + "/ca.crt";
        server_cert = dir + "/server.crt";
        server_key = dir + "/server.key";
        client_cert = dir + "/client.crt";
        client_key = dir + "/client.key";
        std::string script = dir + "/make-certs.sh";
        std::ofstream(script) << "set -e\ncd '" << dir << "'\n"
                              << R"(k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
openssl req -x509 $k -keyout ca.key -out ca.crt -days 1 -subj /CN=shuttle-test-ca
for who in server client; do
    openssl req $k -keyout $who.key -out $who.csr -subj /CN=$who
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >$who.ext
    openssl x509 -req -in $who.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
        -extfile $who.ext -out $who.crt
done
)";
        std::string command = "bash " + script + " >" + dir + "/openssl.log 2>&1 </dev/null";
        if (std::system(command.c_str()) != 0) {
            throw std::runtime_error("openssl failed, see " + dir + "/openssl.log");
        }
    }
};

// Removes the folder and everything in it on destruction.
class TempDir {
  public:
    explicit TempDir(const char* tag) : path_(make_temp_dir(tag)) {}
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

class EtcdTestServer {
  public:
    // One member of a cluster: its data lives in dir, it is launched by the cluster.
    EtcdTestServer(const std::string& dir, std::string name, int client_port, int peer_port,
                   std::string initial_cluster)
        : temp_("etcd-member"),
          dir_(dir),
          name_(std::move(name)),
          initial_cluster_(std::move(initial_cluster)),
          client_port_(client_port),
          peer_port_(peer_port),
          metrics_port_(free_local_port()) {}

    // Ports picked free can be taken by a parallel test before etcd binds them: an etcd that
    // exits at start is tried again on new ports (a CI run saw one exit within 0.2 s).
    explicit EtcdTestServer(bool tls = false) : temp_("etcd"), dir_(temp_.path()) {
        if (tls) {
            certs_.emplace_back(dir_);
        }
        for (int attempt = 1;; ++attempt) {
            client_port_ = free_local_port();
            peer_port_ = free_local_port();
            metrics_port_ = free_local_port();
            initial_cluster_ = name_ + "=" + peer_url();
            try {
                start();
                return;
            } catch (const EtcdExited&) {
                stop(SIGKILL);
                if (attempt == 3) {
                    throw;
                }
                std::error_code ignored;
                std::filesystem::rename(log_path(),
                                        log_path() + ".attempt" + std::to_string(attempt), ignored);
                std::filesystem::remove_all(dir_ + "/data-" + name_, ignored);
            } catch (...) {
                stop(SIGKILL);
                throw;
            }
        }
    }
    ~EtcdTestServer() { stop(SIGKILL); }
    EtcdTestServer(const EtcdTestServer&) = delete;
    EtcdTestServer& operator=(const EtcdTestServer&) = delete;

    std::string endpoint() const {
        return std::string(tls() ? "https" : "http") +
               "://127.0.0.1:" + std::to_string(client_port_);
    }
    bool tls() const { return !certs_.empty(); }
    const TestCertificates& certs() const { return certs_.front(); }
    const std::string& dir() const { return dir_; }

    etcd::ClientOptions client_options() const {
        etcd::ClientOptions options;
        options.endpoints = {endpoint()};
        if (tls()) {
            options.ca_file = certs().ca;
            options.cert_file = certs().client_cert;
            options.key_file = certs().client_key;
        }
        return options;
    }

    std::string peer_url() const { return "http://127.0.0.1:" + std::to_string(peer_port_); }

    // Starts (or restarts on the same data dir) and waits until a read succeeds.
    void start() {
        launch();
        wait_ready();
    }

    // Starts the process without waiting (a cluster member needs its peers to answer).
    void launch() {
        if (pid_ > 0) {
            return;
        }
        std::string peer = peer_url();
        std::vector<std::string> args = {
            "etcd",
            "--name=" + name_,
            "--data-dir=" + dir_ + "/data-" + name_,
            "--initial-cluster-token=" + dir_,
            "--listen-client-urls=" + endpoint(),
            "--advertise-client-urls=" + endpoint(),
            "--listen-peer-urls=" + peer,
            "--initial-advertise-peer-urls=" + peer,
            "--initial-cluster=" + initial_cluster_,
            "--initial-cluster-state=new",
            "--listen-metrics-urls=http://127.0.0.1:" + std::to_string(metrics_port_),
            "--heartbeat-interval=10",
            "--election-timeout=100",
        };
        if (tls()) {
            args.push_back("--cert-file=" + certs().server_cert);
            args.push_back("--key-file=" + certs().server_key);
            args.push_back("--trusted-ca-file=" + certs().ca);
            args.push_back("--client-cert-auth");
        }
        std::string log = log_path();
        pid_t parent = getpid();
        pid_ = fork();
        if (pid_ < 0) {
            throw std::runtime_error("fork failed");
        }
        if (pid_ == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent) {
                _exit(1);
            }
            int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            dup2(fd, 1);
            dup2(fd, 2);
            std::vector<char*> argv;
            for (auto& a : args) {
                argv.push_back(a.data());
            }
            argv.push_back(nullptr);
            execvp("etcd", argv.data());
            _exit(127);
        }
    }

    // Stops by PID: SIGTERM (graceful, streams end cleanly) or SIGKILL (cut connections).
    void stop(int signal = SIGTERM) {
        if (pid_ <= 0) {
            return;
        }
        kill(pid_, signal);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        int status = 0;
        while (waitpid(pid_, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > deadline) {
                kill(pid_, SIGKILL);
                waitpid(pid_, &status, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        pid_ = -1;
    }

    bool running() const { return pid_ > 0; }

    void wait_ready() {
        auto options = client_options();
        options.request_timeout = std::chrono::milliseconds(500);
        options.connect_timeout = std::chrono::milliseconds(200);
        etcd::Client client(options);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
        while (true) {
            int status = 0;
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw EtcdExited("etcd exited at start: " + log_tail());
            }
            try {
                client.range("health-probe", "");
                return;
            } catch (const etcd::Error&) {
            }
            if (std::chrono::steady_clock::now() > deadline) {
                throw std::runtime_error("etcd not ready within 15 s: " + log_tail());
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
        }
    }

    struct EtcdExited : std::runtime_error {
        using std::runtime_error::runtime_error;
    };

  private:
    std::string log_path() const { return dir_ + "/etcd-" + name_ + ".log"; }

    // The log's last lines, for the failure message (the folder goes with the test).
    std::string log_tail() const {
        std::ifstream in(log_path());
        std::vector<std::string> lines;
        for (std::string line; std::getline(in, line);) {
            lines.push_back(line);
        }
        std::string text;
        for (size_t i = lines.size() > 5 ? lines.size() - 5 : 0; i < lines.size(); ++i) {
            text += "\n  " + lines[i];
        }
        return text.empty() ? "(empty log " + log_path() + ")" : text;
    }

    TempDir temp_;
    std::string dir_;
    std::string name_ = "s1";
    std::string initial_cluster_;
    int client_port_ = 0, peer_port_ = 0, metrics_port_ = 0;
    std::vector<TestCertificates> certs_;
    pid_t pid_ = -1;
};

// Three members on 127.0.0.1, started together; members can be stopped and restarted.
class EtcdTestCluster {
  public:
    // As EtcdTestServer: a member that exits at start (a port taken meanwhile) means a new
    // cluster on new ports, at most three times.
    EtcdTestCluster() : temp_("etcd-cluster") {
        for (int attempt = 1;; ++attempt) {
            try {
                start_members();
                return;
            } catch (const EtcdTestServer::EtcdExited&) {
                members_.clear();  // each member is killed by its destructor
                for (const auto& entry : std::filesystem::directory_iterator(temp_.path())) {
                    std::filesystem::remove_all(entry.path());
                }
                if (attempt == 3) {
                    throw;
                }
            }
        }
    }

    EtcdTestServer& member(size_t i) { return *members_.at(i); }
    etcd::ClientOptions client_options() const {
        etcd::ClientOptions options;
        for (const auto& member : members_) {
            options.endpoints.push_back(member->endpoint());
        }
        options.request_timeout = std::chrono::milliseconds(1000);
        options.connect_timeout = std::chrono::milliseconds(300);
        return options;
    }

  private:
    void start_members() {
        std::vector<int> client_ports, peer_ports;
        std::string initial;
        for (int i = 0; i < 3; ++i) {
            client_ports.push_back(free_local_port());
            peer_ports.push_back(free_local_port());
            initial += (i ? "," : "") + std::string("m") + std::to_string(i) +
                       "=http://127.0.0.1:" + std::to_string(peer_ports[i]);
        }
        for (int i = 0; i < 3; ++i) {
            members_.push_back(std::make_unique<EtcdTestServer>(
                temp_.path(), "m" + std::to_string(i), client_ports[i], peer_ports[i], initial));
        }
        for (auto& member : members_) {
            member->launch();
        }
        for (auto& member : members_) {
            member->wait_ready();
        }
    }

    TempDir temp_;
    std::vector<std::unique_ptr<EtcdTestServer>> members_;
};

// Polls until predicate() is true or the timeout passes; returns the last result.
template <typename Predicate>
// 15 s by default: the suite runs in parallel and a busy machine answers later; it returns as
// soon as the predicate holds.
bool eventually(Predicate predicate,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(15000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!predicate()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
}

}  // namespace shuttle::test
