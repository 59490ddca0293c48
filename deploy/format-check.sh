#!/usr/bin/env bash
# Checks that the C++ files changed since the commit in .clang-format-baseline
# (the last commit before formatting was enforced) follow .clang-format:
# clang-format --dry-run -Werror, printing what differs. Files not changed
# since then keep their old layout until someone touches them. Outside a git
# checkout there is nothing to compare with, and the check says so and passes.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "format-check: not a git checkout; nothing to check"
  exit 0
fi
base=$(cat .clang-format-baseline)
if ! git cat-file -e "$base^{commit}" 2>/dev/null; then
  echo "format-check: baseline $base is not in this clone (shallow?); checking every file"
  base=$(git hash-object -t tree /dev/null)
fi
mapfile -t files < <( { git diff --name-only --diff-filter=d "$base" -- '*.cc' '*.h';
                        git ls-files --others --exclude-standard -- '*.cc' '*.h'; } | sort -u)
if ((${#files[@]} == 0)); then
  echo "format-check: no C++ file changed since $base"
  exit 0
fi
clang-format --dry-run -Werror "${files[@]}"
echo "format-check: ${#files[@]} changed files follow .clang-format"
