// agentcom_grpcurl: grpcurl's command line for the storage plane's servers.
#include <iostream>
#include <string>
#include <vector>

#include "services/tools/grpcurl_cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return agentcom::tools::RunGrpcurl(args, std::cin, std::cout, std::cerr);
}
