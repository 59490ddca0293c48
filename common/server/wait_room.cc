#include "common/server/wait_room.h"

#include "absl/strings/str_cat.h"

namespace agentcom::server {

WaitRoom::WaitRoom(Options options) : options_(std::move(options)) {
  if (options_.metrics) {
    auto& registry = *options_.metrics;
    open_ = &prometheus::BuildGauge()
                 .Name("agentcom_push_waiting")
                 .Help("Push streams and waiting calls open, by service.")
                 .Register(registry)
                 .Add({{"service", options_.service}});
    pushed_ = &prometheus::BuildCounter()
                   .Name("agentcom_push_records_total")
                   .Help("Records delivered on push streams, by service.")
                   .Register(registry)
                   .Add({{"service", options_.service}});
    ended_ = &prometheus::BuildCounter()
                  .Name("agentcom_push_ended_total")
                  .Help("Push streams and waiting calls ended, by service and reason.")
                  .Register(registry);
  }
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { Work(); });
  ticker_ = std::thread([this] { Tick(); });
}

WaitRoom::~WaitRoom() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  for (auto& t : threads_) t.join();
  ticker_.join();
}

absl::Status WaitRoom::Join(std::shared_ptr<Waiter> waiter, std::vector<std::string> keys,
                            std::string owner) {
  absl::MutexLock l(&mu_);
  if (closed_) return ShuttingDown();
  if (static_cast<int>(waiters_.size()) >= options_.max_waiters) {
    return absl::ResourceExhaustedError(
        absl::StrCat("this ", options_.service, " store already has ", options_.max_waiters,
                     " streams and waiting calls open (limits.max_watchers)"));
  }
  int& mine = per_owner_[owner];
  if (mine >= options_.max_per_owner) {
    return absl::ResourceExhaustedError(
        absl::StrCat(owner, " already has ", options_.max_per_owner,
                     " streams or waiting calls open (limits.max_watchers_per_owner)"));
  }
  ++mine;
  Waiter* w = waiter.get();
  w->keys_ = std::move(keys);
  w->owner_ = std::move(owner);
  for (const std::string& k : w->keys_) by_key_.emplace(k, w);
  waiters_.emplace(w, std::move(waiter));
  if (open_) open_->Increment();
  w->state_ = Waiter::State::kParked;
  w->notified_ = true;
  Enqueue(w);
  return absl::OkStatus();
}

void WaitRoom::Enqueue(Waiter* w) {
  if (w->state_ != Waiter::State::kParked) return;
  auto it = waiters_.find(w);
  if (it == waiters_.end()) return;
  w->state_ = Waiter::State::kQueued;
  queue_.push_back(it->second);
}

void WaitRoom::Notify(const std::string& key) {
  absl::MutexLock l(&mu_);
  auto [begin, end] = by_key_.equal_range(key);
  for (auto it = begin; it != end; ++it) {
    it->second->notified_ = true;
    Enqueue(it->second);
  }
}

void WaitRoom::NotifyOne(const std::string& key) {
  absl::MutexLock l(&mu_);
  NotifyOneLocked(key, nullptr);
}

void WaitRoom::NotifyOneLocked(const std::string& key, const Waiter* except) {
  auto [begin, end] = by_key_.equal_range(key);  // in the order they joined
  Waiter* busy = nullptr;
  bool any = false;
  for (auto it = begin; it != end; ++it) {
    Waiter* w = it->second;
    if (w == except || w->cancelled_ || w->state_ == Waiter::State::kDone) continue;
    any = true;
    if (w->state_ == Waiter::State::kParked) {
      w->notified_ = true;
      Enqueue(w);
      return;
    }
    if (busy == nullptr && !w->notified_) busy = w;
  }
  if (busy != nullptr) {
    busy->notified_ = true;  // stepped (as notified) again when its step ends
  } else if (any) {
    // Every waiter is stepping with a notification already: the next one
    // to park takes this one (see Work), so none is lost.
    ++owed_[key];
  }
}

bool WaitRoom::TakeOwed(Waiter* w) {
  for (const std::string& k : w->keys_) {
    auto it = owed_.find(k);
    if (it == owed_.end()) continue;
    if (--it->second == 0) owed_.erase(it);
    return true;
  }
  return false;
}

void WaitRoom::PassOn(Waiter* w) {
  absl::MutexLock l(&mu_);
  PassOnLocked(w);
}

void WaitRoom::PassOnLocked(Waiter* w) {
  for (const std::string& k : w->keys_) NotifyOneLocked(k, w);
}

void WaitRoom::Resume(Waiter* w) {
  absl::MutexLock l(&mu_);
  if (w->state_ == Waiter::State::kRunning) {
    w->resumed_early_ = true;
    return;
  }
  if (w->state_ != Waiter::State::kBusy) return;
  w->state_ = Waiter::State::kParked;
  w->notified_ = true;
  Enqueue(w);
}

void WaitRoom::Close() {
  absl::MutexLock l(&mu_);
  closed_ = true;
  for (auto& [w, keep] : waiters_) {
    w->notified_ = true;
    Enqueue(w);  // a waiter stepping or writing is stepped again afterwards
  }
}

bool WaitRoom::Closed() const {
  absl::MutexLock l(&mu_);
  return closed_;
}

absl::Status WaitRoom::ShuttingDown() {
  return absl::UnavailableError(
      "the store is shutting down (a restart or a restore); resume after the last position "
      "received once it is back");
}

void WaitRoom::Cancel(Waiter* w) {
  absl::MutexLock l(&mu_);
  w->cancelled_ = true;
  w->notified_ = true;
  Enqueue(w);
}

bool WaitRoom::Cancelled(const Waiter* w) const {
  absl::MutexLock l(&mu_);
  return w->cancelled_;
}

void WaitRoom::Leave(Waiter* w) {
  absl::MutexLock l(&mu_);
  // Notified while it was writing and finished from its write's thread
  // (WaitingCall): what woke it may be for another waiter.
  if (w->notified_ && waiters_.contains(w)) PassOnLocked(w);
  Forget(w);
}

void WaitRoom::Forget(Waiter* w) {
  w->state_ = Waiter::State::kDone;
  auto it = waiters_.find(w);
  if (it == waiters_.end()) return;
  for (const std::string& k : w->keys_) {
    auto [begin, end] = by_key_.equal_range(k);
    for (auto k_it = begin; k_it != end; ++k_it) {
      if (k_it->second == w) {
        by_key_.erase(k_it);
        break;
      }
    }
    if (by_key_.count(k) == 0) owed_.erase(k);  // nobody left to owe
  }
  if (--per_owner_[w->owner_] == 0) per_owner_.erase(w->owner_);
  if (open_) open_->Decrement();
  // The last reference may be a queued step's or a running one's.
  waiters_.erase(it);
}

void WaitRoom::CountEnded(const std::string& reason) {
  if (ended_) ended_->Add({{"service", options_.service}, {"reason", reason}}).Increment();
}

void WaitRoom::CountPushed(int records) {
  if (pushed_) pushed_->Increment(records);
}

int WaitRoom::size() const {
  absl::MutexLock l(&mu_);
  return static_cast<int>(waiters_.size());
}

int WaitRoom::parked() const {
  absl::MutexLock l(&mu_);
  int n = 0;
  for (const auto& [w, keep] : waiters_) n += w->state_ == Waiter::State::kParked;
  return n;
}

void WaitRoom::Work() {
  while (true) {
    std::shared_ptr<Waiter> w;
    bool notified;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(
          +[](WaitRoom* r)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return r->stopping_ || !r->queue_.empty(); },
          this));
      if (queue_.empty()) return;
      w = std::move(queue_.front());
      queue_.pop_front();
      if (w->state_ != Waiter::State::kQueued) continue;
      w->state_ = Waiter::State::kRunning;
      w->resumed_early_ = false;
      notified = w->notified_;
      w->notified_ = false;
    }
    const absl::Time now = options_.clock->Now();
    absl::Time next_check = now + absl::Seconds(1);
    const Waiter::Next next = w->Step(notified, now, &next_check);
    absl::MutexLock l(&mu_);
    if (w->state_ == Waiter::State::kDone) continue;  // it left meanwhile
    switch (next) {
      case Waiter::Next::kPark:
        w->state_ = Waiter::State::kParked;
        w->next_check_ = next_check;
        if (!w->notified_ && TakeOwed(w.get())) w->notified_ = true;
        if (w->notified_) Enqueue(w.get());
        break;
      case Waiter::Next::kBusy:
        w->state_ = Waiter::State::kBusy;
        if (w->resumed_early_) {
          w->resumed_early_ = false;
          w->state_ = Waiter::State::kParked;
          w->notified_ = true;
          Enqueue(w.get());
        }
        break;
      case Waiter::Next::kDone:
        // A notification it got while stepping and did not use (it took
        // an item, or ended) may be for another waiter.
        if (w->notified_) PassOnLocked(w.get());
        Forget(w.get());
        break;
    }
  }
}

void WaitRoom::Tick() {
  absl::MutexLock l(&mu_);
  while (!stopping_) {
    options_.clock->AwaitWithDeadline(
        &mu_,
        absl::Condition(
            +[](WaitRoom* r) ABSL_NO_THREAD_SAFETY_ANALYSIS { return r->stopping_; }, this),
        options_.clock->Now() + options_.tick);
    if (stopping_) return;
    const absl::Time now = options_.clock->Now();
    for (auto& [w, owned] : waiters_) {
      if (w->state_ == Waiter::State::kParked && w->next_check_ <= now) Enqueue(w);
    }
  }
}

}  // namespace agentcom::server
