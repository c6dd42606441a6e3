#!/bin/sh
# Build the patched glibc into install/.
#
#   ./build.sh          install what is missing, apply patches/, build, install
#   ./build.sh export   write glibc-src/'s commits back to patches/
#   ./build.sh baseline build the same source without patches/ into
#                       build/baseline/install (what bench/ compares with)
#   ./build.sh aarch64  build the series for AArch64 into install-aarch64/
#                       (with Debian's cross compiler on x86-64; programs
#                       run under qemu-user there)
#   ./build.sh packages PKG...
#                       apt-get install those of PKG... that are missing
#
# glibc-src/ is a git repository: one commit holding Debian's pristine source
# (tag "pristine"), then the series applied with git am.  Edit there, commit,
# then "./build.sh export" so patches/ (what CI builds) has the change.
set -eu

top=$(cd "$(dirname "$0")" && pwd)
src=$top/glibc-src
obj=$top/build/glibc
inst=$top/install
tarball=/usr/src/glibc/glibc-2.36.tar.xz
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
  rm -f "$top"/patches/*.patch
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
  install_packages gcc g++ make gawk bison python3 git xz-utils glibc-source \
    ccache binutils file
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
    say "unpacking $tarball"
    rm -rf "$src" && mkdir -p "$src"
    tar -C "$src" --strip-components=1 -xJf "$tarball"
    git -C "$src" init -q
    git -C "$src" add -A -f
    git -C "$src" $git_id commit -q -m "glibc 2.36 as shipped by Debian's glibc-source"
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
  ${3:+qemu-${2%%-*}} "$1/sbin/ldconfig"
}

# configure_and_build SRC OBJ INST [HOST]: an out-of-tree build of SRC
# installed into INST, cross-compiled for HOST (a GNU triplet) if given.
configure_and_build () {
  mkdir -p "$2"
  if [ ! -f "$2/config.status" ]; then
    cc=gcc cxx=g++ cross=
    if [ -n "${4:-}" ]; then
      cc=$4-gcc cxx=$4-g++
      cross="--host=$4 --build=$(gcc -dumpmachine) --with-headers=/usr/$4/include"
    fi
    command -v ccache >/dev/null && cc="ccache $cc" cxx="ccache $cxx"
    (cd "$2" && CC="$cc" CXX="$cxx" "$1/configure" -q --prefix="$3" \
       --disable-werror $cross >configure.log 2>&1) ||
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
    if [ ! -f "$base/src/configure" ]; then
      say "unpacking $tarball into $base/src"
      rm -rf "$base/src" && mkdir -p "$base/src"
      tar -C "$base/src" --strip-components=1 -xJf "$tarball"
    fi
    [ -x "$base/install/lib/ld-linux-x86-64.so.2" ] && exit 0
    configure_and_build "$base/src" "$base/obj" "$base/install"
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
  "") ;;
  *) say "usage: ./build.sh [export|baseline|aarch64|packages PKG...]"; exit 2 ;;
esac

install_deps
prepare_source
configure_and_build "$src" "$obj" "$inst"
