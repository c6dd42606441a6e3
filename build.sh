#!/bin/sh
# Build the patched glibc into install/.
#
#   ./build.sh          install what is missing, apply patches/, build, install
#   ./build.sh export   write glibc-src/'s commits back to patches/
#   ./build.sh baseline build the same source without patches/ into
#                       build/baseline/install (what bench/ and the tests
#                       compare with)
#   ./build.sh aarch64  build the series for AArch64 into install-aarch64/
#                       (with Debian's cross compiler on x86-64; programs
#                       run under qemu-user there)
#   ./build.sh i386     build the series for i386 into install-i386/
#                       (with Debian's i686 cross compiler, which unlike
#                       gcc-multilib can be installed beside the AArch64
#                       one; programs run natively on x86-64)
#   ./build.sh packages PKG...
#                       apt-get install those of PKG... that are missing
#
# The series is against upstream glibc master at commit $glibc_commit.  Its
# source comes from $GLIBC_TARBALL if set, else from ../shared/glibc/ beside
# this repository, else from a clone of $GLIBC_GIT (glibc's git repository)
# if that is set; the tarball's sha256 or the clone's commit is checked.
#
# glibc-src/ is a git repository: one commit holding that source (tag
# "pristine"), then the series applied with git am.  Edit there, commit,
# then "./build.sh export" so patches/ (what CI builds) has the change.
set -eu

top=$(cd "$(dirname "$0")" && pwd)
src=$top/glibc-src
obj=$top/build/glibc
inst=$top/install
glibc_commit=04e750e75b73957cf1c791535a3f4319534a52fc
glibc_tarball_name=glibc-2.42.9000-04e750e75b.tar.xz
glibc_sha256=c468cda6b598a7546d793e768e6109532227301dbe13b8b98b1616dc74a25a69
git_id="-c user.name=build.sh -c user.email=build.sh@localhost"

say () { printf 'build.sh: %s\n' "$*" >&2; }

series_files () {
  sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$top/patches/series"
}

# A fingerprint of patches/, recorded in glibc-src/ when the series is applied.
series_hash () {
  (cd "$top/patches" && cat series $(series_files)) | sha256sum | cut -c1-64
}

export_series () {
  [ -d "$src/.git" ] || { say "no glibc-src/ to export from"; exit 1; }
  if [ -n "$(git -C "$src" status --porcelain --untracked-files=no)" ]; then
    say "glibc-src/ has uncommitted changes: commit them first"; exit 1
  fi
  # The cover letter, written by hand, is 0000-cover-letter.txt: no
  # patch to apply, so that patches/ holds one .patch per commit.
  find "$top/patches" -name '*.patch' -delete
  git -C "$src" format-patch -q --no-signature --zero-commit -N \
    -o "$top/patches" pristine..HEAD
  (cd "$top/patches" && ls *.patch) > "$top/patches/series"
  series_hash > "$src/.git/series-hash"
  git -C "$src" rev-parse HEAD > "$src/.git/series-head"
  say "exported $(wc -l < "$top/patches/series") patches to patches/"
}

# install_packages PKG...: install those that are missing.
install_packages () {
  missing=
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
      missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  say "installing:$missing"
  [ "$(id -u)" = 0 ] || { say "need root to apt-get install:$missing"; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends $missing >/dev/null
}

install_deps () {
  install_packages gcc g++ make gawk bison python3 git xz-utils ccache \
    binutils file systemtap-sdt-dev
}

# unpack_glibc DIR: the pristine source of $glibc_commit into DIR.
unpack_glibc () {
  tarball=${GLIBC_TARBALL:-$top/../shared/glibc/$glibc_tarball_name}
  if [ -n "${GLIBC_TARBALL:-}" ] && [ ! -f "$tarball" ]; then
    say "GLIBC_TARBALL: no file $tarball"; exit 1
  fi
  rm -rf "$1" && mkdir -p "$1"
  if [ -f "$tarball" ]; then
    say "unpacking $tarball"
    sum=$(sha256sum "$tarball" | cut -c1-64)
    [ "$sum" = "$glibc_sha256" ] ||
      { say "$tarball: sha256 $sum, not $glibc_sha256"; exit 1; }
    tar -C "$1" --strip-components=1 -xJf "$tarball"
  elif [ -n "${GLIBC_GIT:-}" ]; then
    say "cloning $GLIBC_GIT at $glibc_commit"
    git init -q "$1/.clone"
    git -C "$1/.clone" fetch -q --depth 1 "$GLIBC_GIT" "$glibc_commit" ||
      { say "cannot fetch $glibc_commit from $GLIBC_GIT"; exit 1; }
    [ "$(git -C "$1/.clone" rev-parse FETCH_HEAD)" = "$glibc_commit" ] ||
      { say "$GLIBC_GIT gave another commit than $glibc_commit"; exit 1; }
    git -C "$1/.clone" archive FETCH_HEAD | tar -C "$1" -xf -
    rm -rf "$1/.clone"
  else
    say "no glibc source: set GLIBC_TARBALL to $glibc_tarball_name" \
        "(sha256 $glibc_sha256), or GLIBC_GIT to glibc's git repository"
    exit 1
  fi
}

apply_series () {
  git -C "$src" $git_id am -q --whitespace=nowarn \
    $(series_files | sed "s|^|$top/patches/|") || {
    git -C "$src" am --abort 2>/dev/null || true
    say "a patch in patches/ does not apply to the pristine source"; exit 1
  }
  series_hash > "$src/.git/series-hash"
  git -C "$src" rev-parse HEAD > "$src/.git/series-head"
}

prepare_source () {
  if [ ! -d "$src/.git" ]; then
    unpack_glibc "$src"
    git -C "$src" init -q
    git -C "$src" add -A -f
    git -C "$src" $git_id commit -q -m "glibc master at $glibc_commit"
    git -C "$src" tag pristine
    apply_series
    return
  fi
  [ "$(cat "$src/.git/series-hash" 2>/dev/null)" = "$(series_hash)" ] && return
  # patches/ changed since glibc-src/ was made from it.
  if [ "$(git -C "$src" rev-parse HEAD)" != "$(cat "$src/.git/series-head")" ] ||
     [ -n "$(git -C "$src" status --porcelain --untracked-files=no)" ]; then
    say "patches/ changed, but so did glibc-src/: export or discard your work there first"
    exit 1
  fi
  say "patches/ changed: re-applying the series"
  git -C "$src" reset -q --hard pristine
  apply_series
}

# The built loader searches only install/; point it at the system's library
# directories too so that any installed program runs under it.
# configure_search_path INST TRIPLET [CROSS]: CROSS set for a build for
# another architecture, whose libraries Debian keeps in /usr/TRIPLET/lib
# and whose ldconfig runs under qemu-user.
configure_search_path () {
  mkdir -p "$1/etc"
  {
    echo "# Written by build.sh: the system's library directories."
    if [ -n "${3:-}" ]; then
      dirs=/usr/$2/lib
    else
      echo "include /etc/ld.so.conf"
      dirs="/lib/$2 /usr/lib/$2 /lib64 /usr/lib64 /lib /usr/lib"
    fi
    for d in $dirs; do
      [ -d "$d" ] && echo "$d"
    done
  } > "$1/etc/ld.so.conf"
  # i386's ldconfig runs natively here.
  case "${3:-}" in
    ""|i686-linux-gnu) "$1/sbin/ldconfig" ;;
    *) qemu-"${2%%-*}" "$1/sbin/ldconfig" ;;
  esac
}

# configure_and_build SRC OBJ INST [HOST]: an out-of-tree build of SRC
# installed into INST, cross-compiled for HOST (a GNU triplet) if given.
# SRC is
# ROOT/glibc-src and OBJ ROOT/build/NAME, the same below ROOT for the
# series and for the baseline, so that ccache, told that paths below ROOT
# are relative and that the working directory does not matter, compiles
# each file that the series does not change once for both.
configure_and_build () {
  export CCACHE_BASEDIR="${1%/glibc-src}" CCACHE_NOHASHDIR=1
  mkdir -p "$2"
  if [ ! -f "$2/config.status" ]; then
    cc=gcc cxx=g++ cross= cppflags=
    if [ -n "${4:-}" ]; then
      cc=$4-gcc cxx=$4-g++
      cross="--host=$4 --build=$(gcc -dumpmachine) --with-headers=/usr/$4/include"
      # sys/sdt.h is the same for every architecture, but a cross
      # compiler does not search /usr/include: give it only that header.
      mkdir -p "$top/build/sdt/sys"
      ln -sf "/usr/include/$(gcc -dumpmachine)/sys/sdt.h" \
        "/usr/include/$(gcc -dumpmachine)/sys/sdt-config.h" "$top/build/sdt/sys/"
      cppflags="-idirafter $top/build/sdt"
    fi
    command -v ccache >/dev/null && cc="ccache $cc" cxx="ccache $cxx"
    # --enable-systemtap, as distributions build glibc: the heap
    # profiler's USDT probes (and glibc's own) need sys/sdt.h.
    (cd "$2" && CC="$cc" CXX="$cxx" CPPFLAGS="$cppflags" "$1/configure" -q \
       --prefix="$3" --disable-werror --enable-systemtap $cross \
       >configure.log 2>&1) ||
      { say "configure failed: see $2/configure.log"; exit 1; }
  fi
  say "building $1 (a clean build takes about 15 minutes on 2 cores)"
  make -C "$2" -j"$(nproc)" -s >"$2/make.log" 2>&1 ||
    { tail -30 "$2/make.log"; say "build failed: see $2/make.log"; exit 1; }
  make -C "$2" -s install >"$2/install.log" 2>&1 ||
    { tail -30 "$2/install.log"; say "install failed: see $2/install.log"; exit 1; }
  configure_search_path "$3" "${4:-$(gcc -dumpmachine)}" "${4:-}"
  say "installed into $3"
}

case "${1:-}" in
  export) export_series; exit 0 ;;
  packages) shift; install_packages "$@"; exit 0 ;;
  baseline)
    install_deps
    base=$top/build/baseline
    [ -f "$base/glibc-src/configure" ] || unpack_glibc "$base/glibc-src"
    [ -x "$base/install/lib/ld-linux-x86-64.so.2" ] && exit 0
    configure_and_build "$base/glibc-src" "$base/build/glibc" "$base/install"
    exit 0 ;;
  aarch64)
    install_deps
    host=
    if [ "$(uname -m)" != aarch64 ]; then
      install_packages gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user
      host=aarch64-linux-gnu
    fi
    prepare_source
    configure_and_build "$src" "$top/build/aarch64" "$top/install-aarch64" \
      $host
    exit 0 ;;
  i386)
    install_deps
    install_packages gcc-i686-linux-gnu g++-i686-linux-gnu
    prepare_source
    configure_and_build "$src" "$top/build/i386" "$top/install-i386" \
      i686-linux-gnu
    exit 0 ;;
  "") ;;
  *) say "usage: ./build.sh [export|baseline|aarch64|i386|packages PKG...]"; exit 2 ;;
esac

install_deps
prepare_source
configure_and_build "$src" "$obj" "$inst"
