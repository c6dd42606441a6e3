#!/bin/sh
# The benchmark command: installs what is missing, builds the patched glibc
# (./build.sh) and, once, the same source without the patches
# (./build.sh baseline, about 15 minutes), then runs bench/bench.py, which
# rewrites bench/RESULTS.md and bench/results.png, then bench/costs.py,
# bench/dumps.py, bench/realloc.py, bench/unload.py, bench/probes.py,
# bench/memory.py and,
# once ./build.sh aarch64 has built it, bench/aarch64.py, which rewrite
# their sections of bench/RESULTS.md.  Arguments go to bench/bench.py
# (--runs N, --only WORKLOAD...).  Run it on a quiet machine.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/build.sh"
"$top/build.sh" baseline
"$top/build.sh" packages libjemalloc2 libgoogle-perftools4 python3-matplotlib \
  valgrind g++ binutils bpftrace strace
/usr/bin/python3 "$top/bench/bench.py" "$@"
/usr/bin/python3 "$top/bench/costs.py"
/usr/bin/python3 "$top/bench/dumps.py"
/usr/bin/python3 "$top/bench/realloc.py"
/usr/bin/python3 "$top/bench/unload.py"
/usr/bin/python3 "$top/bench/probes.py"
/usr/bin/python3 "$top/bench/memory.py"
"$top/build.sh" aarch64
exec /usr/bin/python3 "$top/bench/aarch64.py"
