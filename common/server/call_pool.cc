#include "common/server/call_pool.h"

#include <algorithm>
#include <utility>

namespace agentcom::server {

CallPool::CallPool(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Work(); });
}

CallPool::~CallPool() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  work_.SignalAll();
  for (auto& t : threads_) t.join();
}

void CallPool::Run(std::function<void()> work) {
  {
    absl::MutexLock l(&mu_);
    queue_.push_back(std::move(work));
  }
  work_.Signal();  // one thread: waking every idle one costs each a switch
}

void CallPool::Work() {
  while (true) {
    std::function<void()> work;
    {
      absl::MutexLock l(&mu_);
      while (queue_.empty() && !stopping_) work_.Wait(&mu_);
      if (queue_.empty()) return;  // stopping, and nothing is left
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    work();
  }
}

}  // namespace agentcom::server
