#ifndef AGENTCOM_COMMON_SERVER_CALL_POOL_H_
#define AGENTCOM_COMMON_SERVER_CALL_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace agentcom::server {

// Threads of a process's own for the callback-API calls that may block on
// a table: reads (a page of records, a lookup that misses the cache) and
// the writes that wait for their sync. gRPC 1.51 runs callback handlers on
// a couple of its own threads, which must never block; a call handed here
// costs one thread hand-off, measured at about the cost of running it
// inline (BENCHMARKS.md, session 14), and far less than the synchronous
// API in a server that also serves callback calls. Work runs in the order
// it was queued, up to `threads` at a time. Thread-safe.
class CallPool {
 public:
  static constexpr int kDefaultThreads = 8;

  explicit CallPool(int threads = kDefaultThreads);
  // Runs everything still queued, then joins the threads. Destroy the pool
  // after the server whose calls it runs has shut down: the server waits
  // for those calls, which finish here.
  ~CallPool();
  CallPool(const CallPool&) = delete;
  CallPool& operator=(const CallPool&) = delete;

  // Queues `work`; never blocks.
  void Run(std::function<void()> work);

 private:
  void Work();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar work_;
  std::vector<std::thread> threads_;
};

}  // namespace agentcom::server

#endif  // AGENTCOM_COMMON_SERVER_CALL_POOL_H_
