// Threads owned by the addon (never the JS thread, never libuv's pool). Each task has a cancel
// flag. Used from the JS thread only (the threads themselves just run their body).
//
// Teardown order matters: when an environment goes away (process exit, worker terminated),
// Node closes and frees every thread-safe function in its own cleanup hooks, and a thread that
// called into a freed one would crash. So each task registers an environment cleanup hook
// *after* its thread-safe function was created; hooks run in reverse order of registration,
// so the task is cancelled and joined before its thread-safe function is torn down.
#pragma once

#include <node_api.h>

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <thread>

namespace engine {

class TaskRegistry {
 public:
  using CancelFlag = std::shared_ptr<std::atomic<bool>>;

  explicit TaskRegistry(napi_env env) : env_(env) {}
  ~TaskRegistry() { shutdown(); }
  TaskRegistry(const TaskRegistry&) = delete;
  TaskRegistry& operator=(const TaskRegistry&) = delete;

  // Starts body on a new thread. Throws std::system_error if no thread can be created.
  void spawn(const CancelFlag& cancel, std::function<void()> body) {
    reapFinished();
    auto task = std::make_unique<Task>();
    task->cancel = cancel;
    std::atomic<bool>* done = &task->done;
    task->thread = std::thread([body = std::move(body), done] {
      body();
      done->store(true);
    });
    task->hooked = napi_add_env_cleanup_hook(env_, &TaskRegistry::stopTask, task.get()) == napi_ok;
    tasks_.push_back(std::move(task));
  }

  int active() const {
    int n = 0;
    for (const auto& t : tasks_) n += t->done.load() ? 0 : 1;
    return n;
  }

  // Cancels and joins everything (also what the cleanup hooks have not done yet).
  void shutdown() {
    for (auto& t : tasks_) t->cancel->store(true);
    for (auto& t : tasks_) stopTask(t.get());
    tasks_.clear();
  }

 private:
  struct Task {
    std::thread thread;
    CancelFlag cancel;
    std::atomic<bool> done{false};
    bool hooked = false;
  };

  static void stopTask(void* arg) {
    auto* task = static_cast<Task*>(arg);
    task->cancel->store(true);
    if (task->thread.joinable()) task->thread.join();
  }

  void reapFinished() {
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      Task* t = it->get();
      if (!t->done.load()) {
        ++it;
        continue;
      }
      if (t->hooked) napi_remove_env_cleanup_hook(env_, &TaskRegistry::stopTask, t);
      if (t->thread.joinable()) t->thread.join();
      it = tasks_.erase(it);
    }
  }

  napi_env env_;
  std::list<std::unique_ptr<Task>> tasks_;
};

}  // namespace engine
