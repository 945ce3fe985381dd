#!/usr/bin/env bash
# Fails when a C file is not formatted as .clang-format says.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=()
while IFS= read -r f; do
	clang-format "$f" | cmp -s - "$f" || bad+=("$f")
done < <(git ls-files '*.c' '*.h' 2>/dev/null || find src proxy tests bench -name '*.[ch]')
if [ ${#bad[@]} -ne 0 ]; then
	echo "check-format: not formatted per .clang-format (run clang-format -i): ${bad[*]}" >&2
	exit 1
fi
echo "check-format: ok"
