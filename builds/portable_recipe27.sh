# Build CPython 2.7 and the C libraries it uses into $PREFIX for EL5's glibc 2.5 with zig cc,
# on a Debian build box: portable_recipe.sh's method (same libraries, same wrappers, same
# $ORIGIN rpaths) where Python 2.7 differs from 3.x. A file of its own, not a section of
# portable_recipe.sh: the recipe's text is part of each interpreter's cache key, and the 3.x
# interpreters (EL6, EL7) need not rebuild for a change that is 2.7's only. Run by
# builds/portable.py as
#   WORK=... PREFIX=... TOOLCHAIN=... TOOLCHAIN_WRAPPERS=... GLIBC=2.5 PYTHON_SERIES=2.7 \
#       WITH_ZMQ=0 PATCHELF=... bash portable_recipe27.sh
# with the Debian orig tarballs (and the build-only tools) in $WORK/dl.
#
# Python 2.7 takes no lzma and no _uuid (uuid.py loads libuuid through ctypes when the system
# has one): xz and util-linux are not built. No pip either: as for 3.x, the payload installs
# pip (20.3.4, the last for 2.7) from the build lock's wheels.
set -euo pipefail
: "${WORK:?}" "${PREFIX:?}" "${TOOLCHAIN:?}" "${TOOLCHAIN_WRAPPERS:?}" "${PYTHON_SERIES:?}"
: "${WITH_ZMQ:?}" "${GLIBC:?}"
[ "$PYTHON_SERIES" = 2.7 ] || { echo "portable_recipe27.sh builds Python 2.7 only"; exit 1; }
[ "$WITH_ZMQ" = 0 ] || { echo "no libzmq for Python 2.7: pyzmq's manylinux1 wheel has one"; exit 1; }
T=x86_64-linux-gnu
SRC=$WORK/src
TOOLS=$WORK/tools
mkdir -p "$SRC" "$TOOLS/bin" "$PREFIX/lib" "$PREFIX/include"

# ---- build-only tools, never part of $PREFIX ----------------------------------------------
. "$TOOLCHAIN_WRAPPERS"
toolchain_wrappers "$TOOLS/bin"
# zig's features.h keeps the old scanf below glibc 2.7 (no __isoc99_sscanf, GLIBC_2.7), but
# tests __GLIBC__ for it before defining __GLIBC__: defined up front, its test holds.
# (portable.compile_env passes the same to the sdists compiled for the target.)
for tool in gcc g++; do
    sed -i "s|-target x86_64-linux-gnu\.$GLIBC |&-D__GLIBC__=2 |" "$TOOLS/bin/$T-$tool"
    grep -q -e "-D__GLIBC__=2" "$TOOLS/bin/$T-$tool"
done
SYSROOT=${SYSROOT:-$TOOLCHAIN/$T/sysroot}
dpkg-deb -x "$WORK"/dl/libtcl8.6_*.deb "$TOOLS/tcl"
dpkg-deb -x "$WORK"/dl/tcl8.6_*.deb "$TOOLS/tcl"
tcl=$TOOLS/tcl/usr/share/tcltk/tcl8.6
printf '#!/bin/sh\nLD_LIBRARY_PATH=%s TCL_LIBRARY=%s TCL8_6_TM_PATH=%s exec %s "$@"\n' \
    "$TOOLS/tcl/usr/lib/$T" "$tcl" "$tcl/tcl8" "$TOOLS/tcl/usr/bin/tclsh8.6" > "$TOOLS/bin/tclsh"
python3 -m zipfile -e "$WORK"/dl/cmake-*.whl "$TOOLS/cmake-wheel"
ln -sf "$TOOLS"/cmake-wheel/cmake/data/bin/cmake "$TOOLS/bin/cmake"
chmod +x "$TOOLS"/bin/* "$TOOLS"/cmake-wheel/cmake/data/bin/*
cat > "$TOOLS/toolchain.cmake" <<EOF
set(CMAKE_FIND_ROOT_PATH $SYSROOT)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
EOF

export PATH="$TOOLS/bin:$TOOLCHAIN/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export CC=$T-gcc CXX=$T-g++ AR=$T-ar RANLIB=$T-ranlib NM=$T-nm STRIP=$T-strip
export READELF=$T-readelf OBJCOPY=$T-objcopy
export CFLAGS="-O2" CXXFLAGS="-O2"
export CPPFLAGS="-I$PREFIX/include"
# As in portable_recipe.sh: an absolute rpath while building, room for the final one.
room=$PREFIX/lib/rpath-room-for-patchelf
export LDFLAGS="-L$PREFIX/lib -Wl,-rpath,$PREFIX/lib:$room"
export PKG_CONFIG=false
unset LD_LIBRARY_PATH PYTHONPATH PYTHONHOME

unpack() {  # unpack NAME-PATTERN into $SRC/$1 and cd there
    echo "=== $1 ($(date +%T))"
    rm -rf "${SRC:?}/$1" && mkdir -p "$SRC/$1"
    tar -xf "$WORK"/dl/$2 -C "$SRC/$1" --strip-components=1
    cd "$SRC/$1"
}
autotools() {  # configure (quietly, its log on failure), make, install
    ./configure --prefix="$PREFIX" --libdir="$PREFIX/lib" "$@" > configure.out 2>&1 ||
        { tail -40 configure.out config.log 2>/dev/null; exit 1; }
    make -j2
    make install
}

unpack zlib 'zlib_*.orig.tar.*'
./configure --prefix="$PREFIX" --libdir="$PREFIX/lib" --shared
make -j2 && make install

unpack bzip2 'bzip2_*.orig.tar.*'
make -f Makefile-libbz2_so CC="$CC $LDFLAGS" CFLAGS="-O2 -fPIC -D_FILE_OFFSET_BITS=64"
cp -P libbz2.so.1.0.8 libbz2.so.1.0 "$PREFIX/lib/"
ln -sf libbz2.so.1.0 "$PREFIX/lib/libbz2.so"
cp bzlib.h "$PREFIX/include/"

# lib, not lib64. libffi's configure finds mkostemp, memfd_create and secure_getenv by
# linking, so within glibc 2.5 it takes mkstemp and getenv.
unpack libffi 'libffi_*.orig.tar.*'
autotools --disable-static --disable-docs --disable-multi-os-directory

# OpenSSL 1.1.1, the newest line Python 2.7.18's _ssl builds with. Certificates and
# openssl.cnf where EL keeps them (/etc/pki/tls). Its getauxval and secure_getenv are behind
# __GLIBC_PREREQ (zig defines __GLIBC_MINOR__ from the target).
unpack openssl 'openssl_*.orig.tar.*'
./Configure linux-x86_64 --prefix="$PREFIX" --libdir=lib --openssldir=/etc/pki/tls \
    shared no-tests
make -j2 > make.out 2>&1 || { tail -40 make.out; exit 1; }
make install_sw > /dev/null

unpack ncurses 'ncurses_*.orig.tar.*'
autotools --with-shared --without-normal --without-debug --without-ada --without-cxx \
    --without-cxx-binding --without-tests --without-manpages --without-progs --enable-widec \
    --disable-db-install --disable-stripping --with-default-terminfo-dir=/usr/share/terminfo \
    --with-terminfo-dirs=/etc/terminfo:/usr/share/terminfo:/lib/terminfo:/usr/lib/terminfo

unpack readline 'readline_*.orig.tar.*'
# Upstream's patch 001 for 8.2 (see portable_recipe.sh): a NULL from setlocale() crashed.
perl -0pi -e 's/(  ret = setlocale \(LC_CTYPE, lspec\);[^\n]*\n)/$1  if (ret == 0 || *ret == 0)\n    ret = setlocale (LC_CTYPE, (char *)NULL);\n  if (ret == 0 || *ret == 0)\n    ret = RL_DEFAULT_LOCALE;\n/' nls.c
grep -q 'ret = RL_DEFAULT_LOCALE;' nls.c
./configure --prefix="$PREFIX" --disable-static --with-curses > configure.out 2>&1 ||
    { tail -40 configure.out; exit 1; }
make -j2 SHLIB_LIBS=-lncursesw && make install SHLIB_LIBS=-lncursesw

unpack gdbm 'gdbm_*.orig.tar.*'
autotools --disable-static --disable-nls --without-readline

unpack sqlite 'sqlite3_*.orig.tar.*'
CFLAGS="-O2 -DSQLITE_ENABLE_FTS3 -DSQLITE_ENABLE_FTS3_PARENTHESIS -DSQLITE_ENABLE_FTS4 \
-DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_RTREE -DSQLITE_ENABLE_COLUMN_METADATA \
-DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_SECURE_DELETE -DSQLITE_MAX_VARIABLE_NUMBER=250000" \
    TCLSH_CMD=tclsh autotools --disable-static --disable-tcl --disable-readline \
    --disable-editline --enable-threadsafe

# Python 2.7.18 bundles expat 2.2.8; pyexpat takes this one (--with-system-expat).
unpack expat 'expat_*.orig.tar.*'
cmake -S expat -B build -DCMAKE_TOOLCHAIN_FILE="$TOOLS/toolchain.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_INSTALL_LIBDIR=lib \
    -DCMAKE_SKIP_RPATH=ON -DEXPAT_BUILD_TOOLS=OFF -DEXPAT_BUILD_EXAMPLES=OFF \
    -DEXPAT_BUILD_TESTS=OFF -DEXPAT_BUILD_DOCS=OFF -DEXPAT_SHARED_LIBS=ON \
    > build.out 2>&1 || { tail -40 build.out; exit 1; }
{ cmake --build build -j2 && cmake --install build; } >> build.out 2>&1 ||
    { tail -40 build.out; exit 1; }

# ---- CPython 2.7 ----------------------------------------------------------------------
# UCS-4 (the cp27mu ABI of manylinux1 wheels), a shared libpython, libffi and expat from
# $PREFIX. setup.py finds OpenSSL, zlib, bz2, sqlite, readline, ncursesw and gdbm in
# CPPFLAGS' and LDFLAGS' directories (2.7 has no --with-openssl). 2.7 uses none of the
# functions glibc gained after 2.5 (pipe2, dup3, accept4, epoll_create1, utimensat, ...):
# its configure finds the functions it uses by linking, which zig refuses above the target.
unpack python "python${PYTHON_SERIES}_*.orig.tar.*"
# setup.py builds crypt only when it finds libcrypt in its library directories, and zig has
# no stub of it: glibc 2.17's (the ppbt sysroot's; crypt is GLIBC_2.2.5 there, as on EL5) is
# linked by its soname, through a link in $PREFIX/lib that lives only while Python builds.
# No nis: its headers (rpcsvc/yp_prot.h) are only the build box's.
glibc_lib=$(dirname "${PATCHELF:?}")/../$T/sysroot/lib
ln -sf "$glibc_lib/libcrypt.so.1" "$PREFIX/lib/libcrypt.so"
sed -i "s/^disabled_module_list = \[\]$/disabled_module_list = ['nis']/" setup.py
grep -q "^disabled_module_list = \['nis'\]$" setup.py
CPPFLAGS="$CPPFLAGS -I$PREFIX/include/ncursesw" ./configure --prefix="$PREFIX" \
    --enable-shared --enable-unicode=ucs4 --with-system-ffi --with-system-expat \
    --with-ensurepip=no > configure.out 2>&1 || { tail -40 configure.out; exit 1; }
grep -q '^#define Py_UNICODE_SIZE 4$' pyconfig.h
# No test suite, no -O bytecode: the install's four compileall runs are dropped (the
# lib2to3 grammar pickles are still made).
sed -i 's/\$(PYTHON_FOR_BUILD) -Wi -tt\? \(-O \)\?\$(DESTDIR)/: $(DESTDIR)/' Makefile
[ "$(grep -c ': $(DESTDIR)$(LIBDEST)/compileall.py' Makefile)" = 4 ]
make -j2 > make.out 2>&1 || { tail -60 make.out; exit 1; }
# setup.py only warns about a module it could not build, or whose import failed.
sed -n '/necessary bits to build these modules/,/^$/p' make.out
if grep -q -e 'Failed to build these modules' -e 'WARNING: renaming' make.out; then
    sed -n '/Failed to build these modules/,/^$/p' make.out
    grep -B3 -e 'error:' -e 'WARNING: renaming' make.out | tail -40
    exit 1
fi
make install > install.out 2>&1 || { tail -40 install.out; exit 1; }
rm "$PREFIX/lib/libcrypt.so"

# ---- trim, then make every ELF find /opt/salt/lib relative to itself ----------------------
py=$PREFIX/lib/python$PYTHON_SERIES
rm -rf "$PREFIX/share/man" "$PREFIX/share/doc" "$PREFIX/share/info"
find "$PREFIX/lib" -maxdepth 1 \( -name '*.a' -o -name '*.la' \) -delete
# 2.7 builds a static libpython next to the shared one (config/libpython2.7.a), and installs
# its test suite and the modules' tests (3.x: --disable-test-modules).
rm -f "$py"/config/libpython*.a "$py"/lib-dynload/_testcapi.so
rm -rf "$py"/test "$py"/lib-tk/test "$py"/idlelib/idle_test
find "$py" -mindepth 2 -maxdepth 2 -type d \( -name test -o -name tests \) \
    ! -path "$py/site-packages/*" -exec rm -rf {} +
# Only the interpreter's own commands (and openssl) in bin.
find "$PREFIX/bin" -mindepth 1 ! \( -name 'python*' -o -name 'pydoc*' -o -name '2to3*' \
    -o -name 'idle*' -o -name openssl \) -exec rm -f {} +
# sysconfig names the compilers without the wrappers' prefix (see portable_recipe.sh).
build_dir=$SRC/python
for f in "$py"/_sysconfigdata.py "$py"/config/Makefile; do
    sed -i -e "s|$build_dir|$PREFIX|g" -e "s|:$room||g" \
        -e "s/\b$T-\(gcc\|g++\|cpp\|ar\|ranlib\|readelf\)/\1/g" "$f"
done
"$PREFIX/bin/python$PYTHON_SERIES" -m compileall -q -f -d "$py" "$py"/_sysconfigdata.py > /dev/null

printf '\177ELF' > "$WORK/elf-magic"
find "$PREFIX" -type f ! -name '*.py' ! -name '*.pyc' | while read -r f; do
    cmp -s -n 4 "$f" "$WORK/elf-magic" || continue
    $STRIP --strip-debug "$f"
    # No .note.ABI-tag: EL5 runs Linux 2.6.18.
    if $READELF -S "$f" | grep -q '\.note\.ABI-tag'; then
        $OBJCOPY --remove-section=.note.ABI-tag "$f"
    fi
    if $READELF -d "$f" | grep -q '(NEEDED)'; then
        rel=$(realpath --relative-to="$(dirname "$f")" "$PREFIX/lib")
        [ "$rel" = . ] && rpath='$ORIGIN' || rpath="\$ORIGIN/$rel"
        old=$(patchelf --print-rpath "$f")
        [ ${#old} -ge ${#rpath} ] || { echo "$f: rpath '$old' leaves no room for $rpath"; exit 1; }
        patchelf --force-rpath --set-rpath "$rpath" "$f"
    fi
done
left=$(grep -rl -- "$WORK" "$PREFIX" || true)
[ -z "$left" ] || { echo "build path $WORK left in: $left"; exit 1; }
