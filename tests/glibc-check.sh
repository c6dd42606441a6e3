#!/bin/sh
# glibc's own test suite on the series, against the same source built
# without it: the whole of make check with the profiler unset, then
# make check in malloc, nptl, elf, posix and stdlib with it on at a mean
# of 64 bytes.  Hours on two cores, longer than CI allows; writes
# tests/GLIBC-CHECK.md.  A list of subdirectories, if given, restricts
# both runs to them (a trial).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/build.sh"
"$top/build.sh" baseline
exec /usr/bin/python3 "$top/tests/glibc_check.py" "$@"
