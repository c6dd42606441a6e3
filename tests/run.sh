#!/bin/sh
# The test command: installs and builds what is missing (./build.sh, the
# AArch64 build with its cross compiler and qemu-user, and the third-party
# readers the report formats are checked with), then runs every test, and
# those that run for AArch64 again under it.  Arguments go to
# tests/run.py (--quick, test names).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/build.sh"
"$top/build.sh" aarch64
"$top/build.sh" packages golang-go google-perftools libdevel-nytprof-perl \
  protobuf-compiler golang-github-google-pprof-dev binutils librsvg2-bin \
  strace bpftrace
exec /usr/bin/python3 "$top/tests/run.py" "$@"
