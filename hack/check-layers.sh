#!/usr/bin/env bash
# Fails when a file includes a header from a folder its library may not
# depend on (docs/architecture.md), or when anything under src/ includes a
# gRPC header. Run by hack/test.sh and as the ctest test layout/check_layers.
# Usage: hack/check-layers.sh [ROOT] (default: this repository).
set -euo pipefail
root=${1:-$(dirname "$0")/..}
cd "$root"

# What each folder of src/ may include besides itself ("api": the generated
# protobuf-c headers, *.pb-c.h). Keep in step with the CMakeLists.txt files.
declare -A allowed=(
	[base]=""
	[wire]="base"
	[rule]="base api"
	[config]="rule base"
	[podspec]="base"
	[record]="rule base api"
	[metrics]="rule podspec base"
	[complain]="config base"
)
src_folders="${!allowed[*]}"
bad=0
fail() {
	echo "check-layers: $1: $2" >&2
	bad=1
}

# Prints "LINE:HEADER" for each #include "..." of a file.
quoted_includes() {
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1"
}

for folder in $src_folders; do
	[ -d "src/$folder" ] || {
		fail "src/$folder" "missing folder"
		continue
	}
	for f in src/"$folder"/*.[ch]; do
		if grep -Eq '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]grpc' "$f"; then
			fail "$f" "includes a gRPC header (nothing under src/ may)"
		fi
		if [ "$folder" != podspec ] &&
			grep -Eq '^[[:space:]]*#[[:space:]]*include[[:space:]]*<curl/' "$f"; then
			fail "$f" "includes libcurl (only src/podspec may)"
		fi
		while IFS= read -r h; do
			case "$h" in
			*.pb-c.h) dep=api ;;
			*/*) dep=${h%%/*} ;;
			*)
				fail "$f" "#include \"$h\": name its folder (src/ is the include root)"
				continue
				;;
			esac
			[ "$dep" = "$folder" ] && continue
			case " ${allowed[$folder]} " in
			*" $dep "*) ;;
			*) fail "$f" "#include \"$h\": src/$folder may not depend on $dep (allowed: ${allowed[$folder]:-nothing})" ;;
			esac
		done < <(quoted_includes "$f")
	done
done

# proxy/ may use all of src/ and itself; only main.c (the crisp binary's
# dispatch) includes the tools. tools/<name>/ may use src/, itself and
# crisp_proxy's headers (the one exception, tools/README.md), never another tool.
check_outside_src() {
	local f=$1 own=$2 extra=$3 h dep
	while IFS= read -r h; do
		case "$h" in
		*.pb-c.h) continue ;;
		*/*)
			dep=${h%%/*}
			case " $src_folders " in
			*" $dep "*) continue ;;
			esac
			case " $extra " in
			*" $dep "*) continue ;;
			esac
			fail "$f" "#include \"$h\": not a folder of src/ it may use"
			;;
		*)
			[ -e "$own/$h" ] && continue
			[ "$own" != proxy ] && [ -e "proxy/$h" ] && continue
			fail "$f" "#include \"$h\": no such header in $own/ (src/ headers name their folder)"
			;;
		esac
	done < <(quoted_includes "$f")
}
for f in proxy/*.[ch]; do
	extra=""
	[ "$f" = proxy/main.c ] && extra="replay check_profile report"
	check_outside_src "$f" proxy "$extra"
done
for d in tools/*/; do
	d=${d%/}
	for f in "$d"/*.[ch]; do
		check_outside_src "$f" "$d" ""
	done
done

if [ $bad -ne 0 ]; then
	echo "check-layers: FAILED (the allowed directions: docs/architecture.md)" >&2
	exit 1
fi
echo "check-layers: ok"
