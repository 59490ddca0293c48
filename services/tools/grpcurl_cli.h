#ifndef AGENTCOM_SERVICES_TOOLS_GRPCURL_CLI_H_
#define AGENTCOM_SERVICES_TOOLS_GRPCURL_CLI_H_

#include <iosfwd>
#include <string>
#include <vector>

namespace agentcom::tools {

// Runs the grpcurl-compatible command line (the subset operators need):
//   agentcom_grpcurl [-plaintext] [-H 'name: value']... [-d JSON|@]
//                    [-max-time SECONDS] [-emit-defaults]
//                    ADDRESS (list [SERVICE] | describe SYMBOL | SERVICE/METHOD)
// Services and messages are discovered through server reflection. Exit codes
// follow grpcurl: 0 OK, 1 usage or connection error, 64 + gRPC code for an
// RPC error. `in` is read for -d @.
int RunGrpcurl(const std::vector<std::string>& args, std::istream& in,
               std::ostream& out, std::ostream& err);

}  // namespace agentcom::tools

#endif  // AGENTCOM_SERVICES_TOOLS_GRPCURL_CLI_H_
