#!/bin/sh
# glibc's own test suite on the series, against the same source built
# without it: the whole of make check with the profiler unset, then
# make check in malloc, nptl, elf, posix and stdlib with it on at a mean
# of 64 bytes.  An hour and a half on two cores, longer than CI allows;
# writes tests/GLIBC-CHECK.md.  Arguments go to tests/glibc_check.py: a
# list of subdirectories restricts the runs to them (a trial, whose table
# is printed, not written);
# --reuse-unpatched takes the unpatched build's results from its last
# make check; --unpatched-failed TEST,... takes its failures as an
# earlier run recorded them.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/build.sh"
"$top/build.sh" baseline
exec /usr/bin/python3 "$top/tests/glibc_check.py" "$@"
