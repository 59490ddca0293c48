#!/usr/bin/env bash
# Installs the Debian 12 packages the storage plane needs, when missing.
#   deploy/setup.sh            build and run
#   deploy/setup.sh --tests    also what the test suite needs
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libgrpc++-dev libgrpc-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev
  libabsl-dev libleveldb-dev libsnappy-dev prometheus-cpp-dev libyaml-cpp-dev
  libspdlog-dev libssl-dev libboost-dev libcurl4-openssl-dev libtinyxml2-dev
  supervisor curl ca-certificates
)
if [[ "${1:-}" == "--tests" ]]; then
  # chromium: the dashboard's browser test (driven by playwright-core from npm)
  # clang + libclang-rt: the sanitizer builds and libFuzzer; clang-format:
  # the format check; dpkg-dev: apt-get source for the ThreadSanitizer stage;
  # python3-grpcio: the Python example agent (examples/python), run by a test
  # swift*: a real OpenStack Swift with its S3 API for the off-host backup
  # tests (deploy/swift/start-swift.sh)
  packages+=(libgtest-dev libgmock-dev chromium prometheus docker-compose clang libclang-rt-14-dev
             clang-format dpkg-dev python3-grpcio python3-protobuf
             swift swift-proxy swift-account swift-container swift-object)
  command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
