#pragma once

#include <functional>
#include <vector>

namespace shuttle::plugin {

// Undo steps of a command in progress, run newest first unless commit() was called.
// Each step's own failure is swallowed so every other step still runs.
class Rollback {
  public:
    Rollback() = default;
    Rollback(const Rollback&) = delete;
    Rollback& operator=(const Rollback&) = delete;
    ~Rollback() {
        if (committed_)
            return;
        for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) {
            try {
                (*it)();
            } catch (...) {
            }
        }
    }
    void add(std::function<void()> step) { steps_.push_back(std::move(step)); }
    void commit() { committed_ = true; }

  private:
    std::vector<std::function<void()>> steps_;
    bool committed_ = false;
};

}  // namespace shuttle::plugin
