#!/bin/sh
# The closest to a Hurd build that Debian 12 allows (it has no Hurd
# compiler or headers): compile the files Hurd builds that the series
# touches with the x86-64 build's flags and -Werror, once as they are and
# once with sysdeps/generic/malloc-prof-thread.h forced (MALLOC_PROF 0, as
# Hurd's sysdeps order picks it), and check that the latter reference
# nothing of the profiler.  With --each-patch, at every patch of the
# series, in a worktree.  Needs ./build.sh to have built build/glibc.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
obj=$top/build/glibc
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
files="malloc/malloc.c malloc/malloc-prof-hook.c malloc/malloc-debug.c
stdlib/exit.c malloc/set-freeres.c dlfcn/dlclose.c elf/dl-libc.c
csu/init-first.c elf/dl-close.c"

check () {
  src=$1 st=0
  for f in $files; do
    d=${f%/*} b=${f##*/}
    [ -e "$src/$f" ] || continue
    cmd=$(cd "$top/glibc-src/$d" && make -n -W "$b" objdir="$obj" \
	    "$obj/$d/${b%.c}.os" 2>/dev/null | grep -m1 "gcc $b -c" \
	  | sed -e 's/^ccache //' -e 's/ -o [^ ]*/ /' -e 's/-MD -MP//' \
		-e 's/-MF [^ ]*//' -e 's/-MT [^ ]*//')
    if [ -z "$cmd" ]; then echo "no compile command for $f"; return 1; fi
    modes=on
    # Before the series has the switch, there is nothing to exclude.
    [ -e "$src/sysdeps/generic/malloc-prof-thread.h" ] && modes="on off"
    for mode in $modes; do
      extra=-Werror
      [ $mode = off ] \
	&& extra="$extra -include $src/sysdeps/generic/malloc-prof-thread.h"
      o=$out/$mode-${b%.c}.os
      if ! (cd "$src/$d" && eval "$cmd $extra -o $o") 2>"$o.err"; then
	echo "FAIL $mode $f"; head -20 "$o.err"; st=1
      elif [ $mode = off ] && nm "$o" | grep -qi prof; then
	echo "FAIL off $f: references the profiler"; st=1
      fi
    done
  done
  return $st
}

if [ "${1:-}" = --each-patch ]; then
  wt=$out/src
  git -C "$top/glibc-src" worktree add -q --detach "$wt" HEAD || exit 1
  st=0
  for c in $(git -C "$top/glibc-src" rev-list --reverse pristine..HEAD); do
    git -C "$wt" checkout -q "$c"
    echo "$(git -C "$wt" log -1 --format=%s)"
    check "$wt" || st=1
  done
  git -C "$top/glibc-src" worktree remove --force "$wt"
  exit $st
fi
check "$top/glibc-src" && echo "hurd-check: every file compiles both ways"
