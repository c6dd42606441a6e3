#!/bin/sh
# The test command: installs and builds what is missing (./build.sh, the
# same glibc without the series that the fast paths are compared with, the
# AArch64 build with its cross compiler and qemu-user, the i386 build, and
# the third-party readers the report formats are checked with), then runs
# the tool tier's tests (pytest tests/tool), then every end-to-end test,
# and those that run for AArch64 and i386 again under them.  Arguments go
# to tests/run.py (--quick, test names).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/build.sh"
"$top/build.sh" baseline
"$top/build.sh" aarch64
"$top/build.sh" i386
"$top/build.sh" packages golang-go google-perftools libdevel-nytprof-perl \
  protobuf-compiler golang-github-google-pprof-dev binutils librsvg2-bin \
  strace bpftrace debuginfod llvm valgrind python3-pytest
# The tool tier (tools/mproflib on fixture profiles, no glibc needed),
# then the end-to-end suite; the status is a failure if either failed.
status=0
/usr/bin/python3 -m pytest -q -p no:cacheprovider "$top/tests/tool" || status=1
/usr/bin/python3 "$top/tests/run.py" "$@" || status=1
exit $status
