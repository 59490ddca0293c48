#!/usr/bin/env bash
# Builds Abseil and LevelDB with ThreadSanitizer from Debian's own source
# packages (the exact versions installed, with Debian's patches), as shared
# libraries with Debian's sonames, into a cache outside the clone, and prints
# the directory holding them. The sanitizer stage (deploy/sanitize.sh) puts
# that directory first on LD_LIBRARY_PATH, so the test binaries and Debian's
# gRPC all use the instrumented copies and ThreadSanitizer understands
# absl::Mutex and LevelDB's background thread. Built once per version;
# later runs print the cached directory at once.
#   AGENTCOM_CACHE_DIR   cache root (default ~/.cache/agentcom)
set -euo pipefail

cache_root=${AGENTCOM_CACHE_DIR:-$HOME/.cache/agentcom}
absl_version=$(dpkg-query -W -f='${source:Version}' libabsl-dev)
leveldb_version=$(dpkg-query -W -f='${source:Version}' libleveldb-dev)
prefix="$cache_root/tsan/abseil-${absl_version}_leveldb-${leveldb_version}"
if [[ -f "$prefix/.complete" ]]; then
  echo "$prefix/lib"
  exit 0
fi

log() { echo "tsan-deps: $*" >&2; }

# Source packages come from the same archive as the binary packages: add a
# deb-src entry mirroring each configured Debian deb822 source, once.
src_list=/etc/apt/sources.list.d/agentcom-deb-src.sources
if [[ ! -f "$src_list" ]] && ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ \
    && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  log "adding deb-src entries for the configured Debian archives"
  {
    for f in /etc/apt/sources.list.d/*.sources; do
      [[ -f "$f" && "$f" != "$src_list" ]] || continue
      grep -q 'debian-archive-keyring' "$f" || continue
      sed -e 's/^Types: deb$/Types: deb-src/' "$f"
      echo
    done
    if [[ -f /etc/apt/sources.list ]]; then
      grep '^deb ' /etc/apt/sources.list | sed -e 's/^deb /deb-src /' || true
    fi
  } > "$src_list.tmp"
  mv "$src_list.tmp" "$src_list"
  apt-get update -qq
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
log "fetching abseil $absl_version and leveldb $leveldb_version source packages"
apt-get source -qq "abseil=$absl_version" "leveldb=$leveldb_version" >/dev/null 2>&1 || {
  apt-get update -qq
  apt-get source -qq "abseil=$absl_version" "leveldb=$leveldb_version" >/dev/null
}

build() {  # <source dir> <extra cmake args...>
  local src=$1
  shift
  CC=clang CXX=clang++ cmake -S "$src" -B "$src/tsan-build" -G "Unix Makefiles" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="-fsanitize=thread" -DCMAKE_CXX_FLAGS="-fsanitize=thread" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
    -DCMAKE_INSTALL_PREFIX="$prefix.partial" -DCMAKE_INSTALL_LIBDIR=lib \
    -DBUILD_SHARED_LIBS=ON "$@" >/dev/null
  cmake --build "$src/tsan-build" -j"$(nproc)" >/dev/null
  cmake --install "$src/tsan-build" >/dev/null
}

rm -rf "$prefix.partial"
log "building abseil with -fsanitize=thread (several minutes)"
# As debian/rules configures the shared build.
build abseil-*/ -DCMAKE_CXX_STANDARD=17 -DBUILD_TESTING=OFF
log "building leveldb with -fsanitize=thread"
build leveldb-*/ -DLEVELDB_BUILD_TESTS=OFF -DLEVELDB_BUILD_BENCHMARKS=OFF
touch "$prefix.partial/.complete"
rm -rf "$prefix"
mv "$prefix.partial" "$prefix"
echo "$prefix/lib"
