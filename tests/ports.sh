#!/bin/sh
# The series on every Linux port Debian 12 has a cross compiler for:
# configures glibc-src (./build.sh prepares it) for each and compiles the
# objects the series touches, not the whole library (about 15 minutes a
# port on 2 cores, so not part of tests/run.sh).  Prints a line per port:
# the objects missing, the compiler's errors and its warnings in the
# series' files.  Arguments: GNU triplets (default: all below).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$top/glibc-src/configure" ] ||
  { echo "ports.sh: no glibc-src: run ./build.sh first"; exit 1; }
# Each port's triplet and the Debian architecture of its kernel headers.
all="alpha-linux-gnu:alpha arc-linux-gnu:arc arm-linux-gnueabi:armel
  arm-linux-gnueabihf:armhf hppa-linux-gnu:hppa m68k-linux-gnu:m68k
  mips-linux-gnu:mips mips64el-linux-gnuabi64:mips64el
  powerpc-linux-gnu:powerpc powerpc64-linux-gnu:ppc64
  powerpc64le-linux-gnu:ppc64el riscv64-linux-gnu:riscv64
  s390x-linux-gnu:s390x sh4-linux-gnu:sh4 sparc64-linux-gnu:sparc64
  x86_64-linux-gnux32:x32"
ports=
for t in ${*:-$(echo "$all" | sed 's/:[a-z0-9]*//g')}; do
  a=$(echo "$all" | tr ' ' '\n' | sed -n "s/^$t://p")
  [ -n "$a" ] || { echo "ports.sh: $t: not a port this script knows"; exit 2; }
  ports="$ports $t:$a"
done
objs="csu/libc-start.o dlfcn/dlclose.os elf/dl-libc.os elf/dl-tunables.os
  malloc/malloc.o malloc/malloc.os malloc/malloc_prof.o malloc/malloc_prof.os
  nptl/pthread_create.os posix/fork.os stdlib/exit.o stdlib/exit.os"
for p in $ports; do
  t=${p%%:*}
  "$top/build.sh" packages "gcc-$t" "linux-libc-dev-${p#*:}-cross" >/dev/null
  b=$top/build/ports/$t
  mkdir -p "$b"
  if [ ! -f "$b/config.status" ]; then
    (cd "$b" && CC="$t-gcc" CXX="$t-g++" "$top/glibc-src/configure" -q \
      --prefix=/usr --host="$t" --build="$(gcc -dumpmachine)" \
      --with-headers="/usr/$t/include" --disable-werror >configure.log 2>&1) ||
      { echo "$t: configure failed, see $b/configure.log"; continue; }
  fi
  make -C "$b" -k csu/subdir_lib nptl/subdir_lib malloc/subdir_lib \
    stdlib/subdir_lib posix/subdir_lib dlfcn/subdir_lib elf/objects \
    >"$b/make.log" 2>&1
  missing=
  for o in $objs; do [ -f "$b/$o" ] || missing="$missing $o"; done
  echo "$t: ${missing:+missing$missing; }errors: $(grep -c 'error:' "$b/make.log")," \
    "warnings in the series' files: $(grep 'warning:' "$b/make.log" |
      grep -c 'malloc\|prof\|exit\.c\|fork\.c\|dl-libc\|dlclose\|libc-start\|allocatestack')"
done
