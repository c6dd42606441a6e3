#!/bin/sh
# The test command: installs and builds what is missing (./build.sh, and
# the third-party readers the report formats are checked with), then
# runs every test.  Arguments go to tests/run.py (--quick, test names).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/build.sh"
pkgs="golang-go google-perftools libdevel-nytprof-perl protobuf-compiler
      golang-github-google-pprof-dev binutils"
missing=
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
    missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "tests/run.sh: installing:$missing" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends $missing >/dev/null
fi
exec /usr/bin/python3 "$top/tests/run.py" "$@"
