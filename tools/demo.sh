#!/bin/sh
# Quick start: build the patched glibc, profile tools/demo.c, show the result.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/build.sh"
out=$(mktemp -d /tmp/mprof-demo.XXXXXX)
gcc -O2 -g -fno-builtin -pthread -o "$out/demo" "$top/tools/demo.c"
GLIBC_MALLOC_PROFILE=1 GLIBC_MALLOC_PROFILE_OUT="$out" \
  "$top/install/lib/ld-linux-x86-64.so.2" --library-path "$top/install/lib" \
  "$out/demo"
echo "profiles in $out:"
ls "$out"
echo
/usr/bin/python3 "$top/tools/mprof" report "$out"
