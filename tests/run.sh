#!/bin/sh
# The test command: installs and builds what is missing (./build.sh, the
# same glibc without the series that the fast paths are compared with, the
# AArch64 build with its cross compiler and qemu-user, the i386 build, and
# the third-party readers the report formats are checked with), then runs
# the tool tier's tests (pytest tests/tool), then every end-to-end test
# (pytest tests/glibc), and those that run for AArch64 and i386 again
# under them.
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
# then the end-to-end tier (tests/run.py's tests, each architecture a
# parameter), in one pytest run.  Arguments go to pytest: --quick skips
# glibc's own malloc suite, -k NAME picks tests.
exec /usr/bin/python3 -m pytest -p no:cacheprovider -v -rfE \
  "$top/tests/tool" "$top/tests/glibc" "$@"
