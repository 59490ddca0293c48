#ifndef AGENTCOM_SERVICES_MAINTENANCE_MAINTENANCE_SERVICE_H_
#define AGENTCOM_SERVICES_MAINTENANCE_MAINTENANCE_SERVICE_H_

#include "agentcom/maintenance/v1/maintenance.grpc.pb.h"
#include "common/auth/authorizer.h"
#include "services/maintenance/event_log.h"
#include "services/maintenance/maintenance.h"

namespace agentcom::maintenance {

// gRPC adapter of the Maintenance API over MaintenanceCore; admin role for
// every RPC. Thread-safe.
class MaintenanceService final : public v1::Maintenance::Service {
 public:
  MaintenanceService(const auth::Authorizer& authorizer, MaintenanceCore* core, EventLog* events)
      : authorizer_(authorizer), core_(core), events_(events) {}

  grpc::Status ReportCorruption(grpc::ServerContext* c, const v1::ReportCorruptionRequest* r,
                                v1::ReportCorruptionResponse* out) override;
  grpc::Status GetHealth(grpc::ServerContext* c, const v1::GetHealthRequest* r,
                         v1::GetHealthResponse* out) override;
  grpc::Status CompactAll(grpc::ServerContext* c, const v1::CompactAllRequest* r,
                          v1::CompactionRun* out) override;
  grpc::Status CompactTable(grpc::ServerContext* c, const v1::CompactTableRequest* r,
                            v1::CompactionRun* out) override;
  grpc::Status BackupAll(grpc::ServerContext* c, const v1::BackupAllRequest* r,
                         v1::BackupRun* out) override;
  grpc::Status BackupTable(grpc::ServerContext* c, const v1::BackupTableRequest* r,
                           v1::BackupRun* out) override;
  grpc::Status ListBackups(grpc::ServerContext* c, const v1::ListBackupsRequest* r,
                           v1::ListBackupsResponse* out) override;
  grpc::Status VerifyBackup(grpc::ServerContext* c, const v1::VerifyBackupRequest* r,
                            v1::VerifyBackupResponse* out) override;
  grpc::Status RestoreTable(grpc::ServerContext* c, const v1::RestoreTableRequest* r,
                            v1::RestoreResult* out) override;
  grpc::Status GetCompactionHistory(grpc::ServerContext* c,
                                    const v1::GetCompactionHistoryRequest* r,
                                    v1::CompactionHistory* out) override;
  grpc::Status ListEvents(grpc::ServerContext* c, const v1::ListEventsRequest* r,
                          v1::ListEventsResponse* out) override;
  grpc::Status WatchEvents(grpc::ServerContext* c, const v1::WatchEventsRequest* r,
                           grpc::ServerWriter<v1::Event>* writer) override;

 private:
  const auth::Authorizer& authorizer_;
  MaintenanceCore* const core_;
  EventLog* const events_;
};

}  // namespace agentcom::maintenance

#endif  // AGENTCOM_SERVICES_MAINTENANCE_MAINTENANCE_SERVICE_H_
