// How kernels run in parallel: the caller's own parallel-for, or qnt's pool.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

namespace qnt {

// Execution options of a kernel call.
struct exec {
  // Threads to use; 0: all hardware threads. 1 runs on the calling thread.
  unsigned threads = 0;
  // An engine that runs its own thread pool hands qnt its parallel-for here: it must
  // call task(task_ctx, i) once for every i in [0, count), on any threads, and return
  // when all calls have returned. `pool` is passed back unchanged. When set, qnt
  // starts no threads of its own and `threads` only sets how many tasks to make.
  void (*parallel_for)(void* pool, size_t count, void (*task)(void* task_ctx, size_t i), void* task_ctx) = nullptr;
  void* pool = nullptr;
};

namespace detail {

// qnt's own pool: hardware_concurrency() - 1 workers, started on first use, the
// calling thread working too. A call made while the pool is busy (another thread's
// call, or a kernel called from inside a task) runs on the calling thread alone, so
// nested or concurrent use never oversubscribes the machine.
class thread_pool {
 public:
  static thread_pool& instance() {
    static thread_pool pool;
    return pool;
  }

  static unsigned hardware_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

  // Runs task(ctx, i) for i in [0, count) on up to `threads` threads.
  template <class Task>
  void run(size_t count, unsigned threads, const Task& task) {
    if (count == 0) return;
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (threads <= 1 || count == 1 || !busy.owns_lock() || in_task_) {
      for (size_t i = 0; i < count; ++i) task(i);
      return;
    }
    start_workers();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = [](const void* t, size_t i) { (*static_cast<const Task*>(t))(i); };
      job_ctx_ = &task;
      count_ = count;
      next_.store(0);
      active_ = std::min<unsigned>(threads, unsigned(workers_.size()) + 1) - 1;
      pending_ = active_;
      ++generation_;
    }
    wake_.notify_all();
    work();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
  }

  ~thread_pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

 private:
  thread_pool() = default;

  void start_workers() {
    if (!workers_.empty()) return;
    const unsigned n = hardware_threads() - 1;
    for (unsigned k = 0; k < n; ++k) workers_.emplace_back([this, k] { worker(k); });
  }

  void work() {
    in_task_ = true;
    for (size_t i; (i = next_.fetch_add(1)) < count_;) job_(job_ctx_, i);
    in_task_ = false;
  }

  void worker(unsigned index) {
    unsigned long seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        if (index >= active_) continue;  // this call uses fewer threads
      }
      work();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (--pending_ == 0) done_.notify_one();
      }
    }
  }

  std::mutex run_mutex_;  // one parallel call at a time
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  void (*job_)(const void*, size_t) = nullptr;
  const void* job_ctx_ = nullptr;
  size_t count_ = 0;
  std::atomic<size_t> next_{0};
  unsigned active_ = 0, pending_ = 0;
  unsigned long generation_ = 0;
  bool stop_ = false;
  static inline thread_local bool in_task_ = false;
};

// Threads a call will use (for sizing its task list).
inline unsigned thread_count(const exec& e) { return e.threads ? e.threads : thread_pool::hardware_threads(); }

// Runs task(i) for i in [0, count) as `e` says.
template <class Task>
void parallel_for(const exec& e, size_t count, const Task& task) {
  if (e.parallel_for && count > 1) {
    e.parallel_for(
        e.pool, count, [](void* t, size_t i) { (*static_cast<const Task*>(t))(i); },
        const_cast<void*>(static_cast<const void*>(&task)));
    return;
  }
  thread_pool::instance().run(count, thread_count(e), task);
}

}  // namespace detail
}  // namespace qnt
