// Threads owned by the addon (never the JS thread, never libuv's pool). Each task has a cancel
// flag; shutdown() cancels and joins everything (environment teardown, e.g. a worker exiting).
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

namespace engine {

class TaskRegistry {
 public:
  using CancelFlag = std::shared_ptr<std::atomic<bool>>;

  ~TaskRegistry() { shutdown(); }

  // Starts body on a new thread. Throws std::system_error if no thread can be created.
  void spawn(const CancelFlag& cancel, std::function<void()> body) {
    reapFinished();
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(Task{std::thread([body = std::move(body), done] {
                            body();
                            done->store(true);
                          }),
                          cancel, done});
  }

  int active() {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const Task& t : tasks_) n += t.done->load() ? 0 : 1;
    return n;
  }

  void shutdown() {
    std::list<Task> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      all.swap(tasks_);
    }
    for (Task& t : all) t.cancel->store(true);
    for (Task& t : all)
      if (t.thread.joinable()) t.thread.join();
  }

 private:
  struct Task {
    std::thread thread;
    CancelFlag cancel;
    std::shared_ptr<std::atomic<bool>> done;
  };

  void reapFinished() {
    std::list<Task> finished;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = tasks_.begin(); it != tasks_.end();) {
        if (it->done->load()) {
          finished.splice(finished.end(), tasks_, it++);
        } else {
          ++it;
        }
      }
    }
    for (Task& t : finished)
      if (t.thread.joinable()) t.thread.join();
  }

  std::mutex mu_;
  std::list<Task> tasks_;
};

}  // namespace engine
