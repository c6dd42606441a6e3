#!/bin/sh
# The test command: installs and builds what is missing (./build.sh, and
# the third-party readers the report formats are checked with), then
# runs every test.  Arguments go to tests/run.py (--quick, test names).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/build.sh"
"$top/build.sh" packages golang-go google-perftools libdevel-nytprof-perl \
  protobuf-compiler golang-github-google-pprof-dev binutils librsvg2-bin
exec /usr/bin/python3 "$top/tests/run.py" "$@"
