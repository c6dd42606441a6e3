#!/bin/sh
# The benchmark command: installs what is missing, builds the patched glibc
# (./build.sh) and, once, the same source without the patches
# (./build.sh baseline, about 15 minutes), then runs bench/bench.py, which
# rewrites bench/RESULTS.md and bench/results.png.  Arguments go to
# bench/bench.py (--runs N, --only WORKLOAD...).  Run it on a quiet machine.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/build.sh"
"$top/build.sh" baseline
pkgs="libjemalloc2 libgoogle-perftools4 python3-matplotlib valgrind g++
      binutils"
missing=
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
    missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "bench/run.sh: installing:$missing" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends $missing >/dev/null
fi
exec /usr/bin/python3 "$top/bench/bench.py" "$@"
