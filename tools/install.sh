#!/bin/sh
# Install mprof outside the checkout: DEST/bin/mprof and its code in
# DEST/lib/mprof/mproflib, which records this checkout as where the glibc
# built with the profiler is (mprof --glibc DIR or MPROF_GLIBC say
# otherwise).  Reading profiles needs nothing else.
#
#   tools/install.sh DEST
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 1 ] || { echo "usage: tools/install.sh DEST" >&2; exit 2; }
mkdir -p "$1/bin" "$1/lib/mprof"
dest=$(cd "$1" && pwd)
lib=$dest/lib/mprof
rm -rf "$lib/mproflib"
cp -R "$top/tools/mproflib" "$lib/"
find "$lib/mproflib" -name __pycache__ -prune -exec rm -rf {} +
quote () { /usr/bin/python3 -c 'import sys; print(repr(sys.argv[1]))' "$1"; }
printf '"""Written by tools/install.sh."""\n\nGLIBC = %s\n' \
  "$(quote "$top")" > "$lib/mproflib/installed.py"
printf '#!/usr/bin/python3\n"""mprof, installed by tools/install.sh."""\n\nimport sys\n\nsys.path.insert(0, %s)\n\nfrom mproflib import cli  # noqa: E402\n\nif __name__ == "__main__":\n    cli.main()\n' \
  "$(quote "$lib")" > "$dest/bin/mprof"
chmod 755 "$dest/bin/mprof"
echo "mprof: installed $dest/bin/mprof, running programs on the glibc built in $top"
