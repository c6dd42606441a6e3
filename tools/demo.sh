#!/bin/sh
# Quick start: build the patched glibc, profile tools/demo.c, report what
# it allocated, what it held at exit and what it leaked.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/build.sh"
out=$(mktemp -d /tmp/mprof-demo.XXXXXX)
gcc -O2 -g -fno-builtin -fno-omit-frame-pointer -pthread -o "$out/demo" "$top/tools/demo.c"
"$top/tools/mprof" run --out "$out/profile" -- "$out/demo"
echo
"$top/tools/mprof" report --by-thread "$out/profile"
"$top/tools/mprof" report --leaks "$out/profile"
