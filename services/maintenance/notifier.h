#ifndef AGENTCOM_SERVICES_MAINTENANCE_NOTIFIER_H_
#define AGENTCOM_SERVICES_MAINTENANCE_NOTIFIER_H_

#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agentcom/maintenance/v1/maintenance.pb.h"

namespace agentcom::maintenance {

// True for the events operators are paged about (REQUIREMENTS O5):
// compaction failures, automatic restores, recovery failures. Not successful
// compactions, backups or manual restores.
bool ShouldNotify(const v1::Event& event);

// Posts each notifiable event as JSON (the protobuf JSON mapping of Event)
// to every configured URL from a background thread, 5 s timeout per post,
// never blocking the caller. Thread-safe.
class WebhookNotifier {
 public:
  explicit WebhookNotifier(std::vector<std::string> urls);
  ~WebhookNotifier();
  void Notify(const v1::Event& event);

 private:
  void Run();
  const std::vector<std::string> urls_;
  absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_NOTIFIER_H_
