#ifndef AGENTCOM_COMMON_SERVER_WAIT_ROOM_H_
#define AGENTCOM_COMMON_SERVER_WAIT_ROOM_H_

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"

namespace agentcom::server {

class WaitRoom;

// Something that waits for records to be committed: a push stream or a
// unary call with a wait (see push_calls.h). It is stepped by its room, one
// step at a time, on the room's threads. Thread-safe as far as the room
// needs: a step never runs concurrently with another step of the same
// waiter.
class Waiter {
 public:
  virtual ~Waiter() = default;

  enum class Next {
    // Waiting for a Notify of one of its keys, or for its next check.
    kPark,
    // Started an asynchronous write; when it is done the waiter calls
    // WaitRoom::Resume, or finishes its RPC (then Leave passes on a
    // NotifyOne it got meanwhile).
    kBusy,
    // Finished (its RPC's Finish was called); the room forgets it.
    kDone,
  };

  // Does the waiter's work. `notified` is false when the step is only a
  // periodic check (no record it waits for was committed since the last
  // step): the waiter then checks its table's state or its deadline
  // without reading records. Runs on one of the room's threads; may block
  // on table I/O. Sets *next_check to when it wants to be checked at the
  // latest (the room checks parked waiters at least once per tick).
  virtual Next Step(bool notified, absl::Time now, absl::Time* next_check) = 0;

 private:
  friend class WaitRoom;
  enum class State { kQueued, kRunning, kParked, kBusy, kDone };
  // All guarded by the room's mutex.
  State state_ = State::kQueued;
  bool notified_ = true;
  bool cancelled_ = false;
  // Its write finished before its step returned kBusy.
  bool resumed_early_ = false;
  absl::Time next_check_ = absl::InfinitePast();
  std::vector<std::string> keys_;
  std::string owner_;
};

// Parks waiters until what they wait for is committed, and runs their steps
// on a small pool of its own threads, so that a waiting agent costs no
// thread and no table read while nothing happens, and gRPC's threads never
// block on a table. Writers call Notify(key) after a commit is
// acknowledged; every waiter parked under that key is stepped. A waiter
// that is running or writing when notified is stepped again afterwards, so
// no commit is missed. Every parked waiter is also stepped (as a check, not
// notified) once per tick, so streams notice a table that stopped serving
// and waits notice their deadline. Thread-safe.
class WaitRoom {
 public:
  struct Options {
    // Metric label (the service's name), e.g. "mailbox".
    std::string service;
    // Waiters in this room at once; more is RESOURCE_EXHAUSTED.
    int max_waiters = 10000;
    // Waiters of one owner (an agent id, a channel) at once.
    int max_per_owner = 16;
    int threads = 2;
    absl::Duration tick = absl::Milliseconds(200);
    Clock* clock = Clock::Real();
    // When set, the room's series are registered in it.
    std::shared_ptr<prometheus::Registry> metrics;
  };

  explicit WaitRoom(Options options);
  // Stops the threads. Every waiter must have left (its RPC ended) first.
  ~WaitRoom();

  // Admits `waiter`, woken by Notify of any of `keys`, counted against
  // `owner`'s limit, and queues its first (notified) step.
  // RESOURCE_EXHAUSTED, naming the limit, when the room or the owner is
  // full; the waiter is then not admitted.
  absl::Status Join(std::shared_ptr<Waiter> waiter, std::vector<std::string> keys,
                    std::string owner);

  // A record was committed under `key`: steps every waiter of that key
  // (every stream of it should see the record).
  void Notify(const std::string& key);
  // One item for one waiter was committed under `key` (a task queued: one
  // waiting Assign can take it). Steps the waiter of that key that has
  // waited longest, rather than every one of them; if none is parked, one
  // that is stepping or writing looks again afterwards.
  void NotifyOne(const std::string& key);
  // A waiter that was notified through NotifyOne ends without taking the
  // item (its client went away): passes the notification on to another
  // waiter of each of its keys.
  void PassOn(Waiter* waiter);

  // A waiter that returned kBusy finished its write: step it again.
  void Resume(Waiter* waiter);
  // The process is shutting down (a restart, or a restore stopping the
  // store): every waiter is stepped so that it ends at once with
  // UNAVAILABLE (Closed() tells it), and the client resumes from its last
  // position once the store is back, instead of gRPC's shutdown waiting out
  // its grace period. Later Joins are UNAVAILABLE too.
  void Close();
  bool Closed() const;
  // The status a waiter ends with once the room is closed.
  static absl::Status ShuttingDown();
  // The waiter's RPC was cancelled: step it (as notified) so that it
  // finishes; Cancelled() tells it why.
  void Cancel(Waiter* waiter);
  bool Cancelled(const Waiter* waiter) const;
  // The waiter's RPC is over (OnDone), or answered from its write's thread:
  // forget it, freeing its place against the limits; a second Leave does
  // nothing. A notification it had not used is passed on to another waiter
  // of its keys.
  void Leave(Waiter* waiter);

  // Counts a finished wait by reason ("cancelled", "unavailable", ...) and
  // records pushed.
  void CountEnded(const std::string& reason);
  void CountPushed(int records);

  int size() const;
  // Waiters parked now (not queued, stepping or writing).
  int parked() const;

 private:
  void Enqueue(Waiter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NotifyOneLocked(const std::string& key, const Waiter* except)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes one owed NotifyOne of one of w's keys; false when none is owed.
  bool TakeOwed(Waiter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Passes a NotifyOne that w took and did not use on to another waiter of
  // each of its keys.
  void PassOnLocked(Waiter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Forget(Waiter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Work();
  void Tick();

  const Options options_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<Waiter*, std::shared_ptr<Waiter>> waiters_ ABSL_GUARDED_BY(mu_);
  std::multimap<std::string, Waiter*> by_key_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> per_owner_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<Waiter>> queue_ ABSL_GUARDED_BY(mu_);
  // NotifyOnes that found every waiter of their key stepping with a
  // notification already; the next of them to park is stepped again.
  absl::flat_hash_map<std::string, int> owed_ ABSL_GUARDED_BY(mu_);

  prometheus::Gauge* open_ = nullptr;
  prometheus::Counter* pushed_ = nullptr;
  prometheus::Family<prometheus::Counter>* ended_ = nullptr;

  std::vector<std::thread> threads_;
  std::thread ticker_;
};

// `reply`, which first tells `room` of `key` when the call succeeded: the
// reply of a write whose commit wakes the calls parked under `key`.
template <typename T>
std::function<void(absl::StatusOr<T>)> NotifyOnSuccess(
    WaitRoom& room, std::string key, std::function<void(absl::StatusOr<T>)> reply) {
  return [&room, key = std::move(key), reply = std::move(reply)](absl::StatusOr<T> result) {
    if (result.ok()) room.Notify(key);
    reply(std::move(result));
  };
}

}  // namespace agentcom::server

#endif  // AGENTCOM_COMMON_SERVER_WAIT_ROOM_H_
