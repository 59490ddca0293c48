#include "services/maintenance/notifier.h"

#include <curl/curl.h>

#include "common/json/json.h"
#include "common/logging/log.h"

namespace agentcom::maintenance {

bool ShouldNotify(const v1::Event& e) {
  if (e.type() == "compaction_failed" || e.type() == "recovery_failed") return true;
  if (e.type() == "recovery_complete") {
    auto it = e.details().find("trigger");
    return it != e.details().end() && it->second == "auto";
  }
  return false;
}

WebhookNotifier::WebhookNotifier(std::vector<std::string> urls) : urls_(std::move(urls)) {
  thread_ = std::thread([this] { Run(); });
}

WebhookNotifier::~WebhookNotifier() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void WebhookNotifier::Notify(const v1::Event& event) {
  if (urls_.empty() || !ShouldNotify(event)) return;
  absl::MutexLock l(&mu_);
  queue_.push_back(json::ToJson(event, /*pretty=*/false));
}

void WebhookNotifier::Run() {
  while (true) {
    std::string body;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;
      body = std::move(queue_.front());
      queue_.pop_front();
    }
    for (const std::string& url : urls_) {
      CURL* curl = curl_easy_init();
      if (!curl) continue;
      struct curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
      curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
      curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
      curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
      CURLcode rc = curl_easy_perform(curl);
      long http = 0;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
      curl_slist_free_all(headers);
      curl_easy_cleanup(curl);
      if (rc != CURLE_OK || http >= 300) {
        log::Warn("webhook delivery failed", {{"url", url},
                                              {"error", curl_easy_strerror(rc)},
                                              {"http", static_cast<int64_t>(http)}});
      }
    }
  }
}

}  // namespace agentcom::maintenance
