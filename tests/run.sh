#!/bin/sh
# The test command: installs and builds what is missing (./build.sh),
# then runs every test.  Arguments go to tests/run.py (--quick, names).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/build.sh"
exec /usr/bin/python3 "$top/tests/run.py" "$@"
