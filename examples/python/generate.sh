#!/usr/bin/env bash
# Generates the Python modules for agentcom's gRPC API into OUT_DIR (default
# ./gen) with Debian's protoc and grpc_python_plugin (packages
# protobuf-compiler, protobuf-compiler-grpc; the runtime is python3-grpcio).
#   examples/python/generate.sh [OUT_DIR]
# Then: PYTHONPATH=OUT_DIR /usr/bin/python3 examples/python/agent.py ...
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${1:-gen}
mkdir -p "$OUT"
cd "$ROOT/proto"
protoc -I . --python_out="$OUT" --grpc_python_out="$OUT" \
  --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" \
  $(find agentcom -name '*.proto' ! -path '*/third_party/*' | sort)
