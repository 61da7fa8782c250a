# The part of the portable CPython recipes that is the same for every Python: the build-only
# tools, the environment that compiles for the target, the C libraries CPython links into
# $PREFIX, and the last pass that makes every ELF find /opt/salt/lib relative to itself.
# Sourced by builds/portable_recipe.sh (3.x) and builds/portable_recipe27.sh (2.7), with
# WORK, PREFIX, TOOLCHAIN, TOOLCHAIN_WRAPPERS, GLIBC, PYTHON_SERIES and WITH_ZMQ set:
#   . "$WORK/dl/portable_libraries.sh"   # tools and environment
#   provide_libraries                    # zlib ... expat, xz and libuuid for 3.x, libzmq:
#                                        # built here, or unpacked from $LIBRARIES_TAR
#   ...                                  # CPython, as the recipe builds it
#   relocate_elf_files                   # strip, no kernel note, $ORIGIN rpaths
T=x86_64-linux-gnu
SRC=$WORK/src
TOOLS=$WORK/tools
mkdir -p "$SRC" "$TOOLS/bin" "$PREFIX/lib" "$PREFIX/include"

# ---- build-only tools, never part of $PREFIX ----------------------------------------------
# setup.py asks dpkg-architecture for multiarch dirs and would add the box's own
# /usr/include/x86_64-linux-gnu and /usr/lib/x86_64-linux-gnu (glibc 2.36) to every module.
. "$TOOLCHAIN_WRAPPERS"
toolchain_wrappers "$TOOLS/bin"
SYSROOT=${SYSROOT:-$TOOLCHAIN/$T/sysroot}  # where CMake looks for libraries (zig: none)
# SQLite's canonical source generates its amalgamation with tclsh: Debian's tcl8.6 binaries.
dpkg-deb -x "$WORK"/dl/libtcl8.6_*.deb "$TOOLS/tcl"
dpkg-deb -x "$WORK"/dl/tcl8.6_*.deb "$TOOLS/tcl"
tcl=$TOOLS/tcl/usr/share/tcltk/tcl8.6
printf '#!/bin/sh\nLD_LIBRARY_PATH=%s TCL_LIBRARY=%s TCL8_6_TM_PATH=%s exec %s "$@"\n' \
    "$TOOLS/tcl/usr/lib/$T" "$tcl" "$tcl/tcl8" "$TOOLS/tcl/usr/bin/tclsh8.6" > "$TOOLS/bin/tclsh"
# libzmq and expat ship CMake builds only (their orig tarballs are git snapshots).
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
# The absolute rpath lets configure tests and the build's own programs run; every ELF gets
# its final $ORIGIN-relative rpath at the end, written over this one: a longer rpath would make
# patchelf move segments, and glibc 2.17 rejects the result ("ELF load command address/offset
# not properly aligned"), so the second entry only makes room.
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
cmake_build() {  # cmake -S SRC with the sysroot-only search rules, then install
    local src=$1; shift
    cmake -S "$src" -B build -DCMAKE_TOOLCHAIN_FILE="$TOOLS/toolchain.cmake" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_INSTALL_LIBDIR=lib \
        -DCMAKE_SKIP_RPATH=ON "$@"
    cmake --build build -j2
    cmake --install build
}

# ---- the C libraries ----------------------------------------------------------------------
# Python 2.7 takes no lzma and no _uuid (its uuid.py loads libuuid through ctypes when the
# system has one): xz and util-linux are built for 3.x only.
build_libraries() {
    unpack zlib 'zlib_*.orig.tar.*'
    ./configure --prefix="$PREFIX" --libdir="$PREFIX/lib" --shared
    make -j2 && make install

    unpack bzip2 'bzip2_*.orig.tar.*'
    make -f Makefile-libbz2_so CC="$CC $LDFLAGS" CFLAGS="-O2 -fPIC -D_FILE_OFFSET_BITS=64"
    cp -P libbz2.so.1.0.8 libbz2.so.1.0 "$PREFIX/lib/"
    ln -sf libbz2.so.1.0 "$PREFIX/lib/libbz2.so"
    cp bzlib.h "$PREFIX/include/"

    if [ "${PYTHON_SERIES%%.*}" = 3 ]; then
        unpack xz 'xz-utils_*.orig.tar.*'
        autotools --disable-static --disable-nls --disable-doc --disable-scripts --disable-xz \
            --disable-xzdec --disable-lzmadec --disable-lzmainfo --disable-lzma-links
    fi

    # lib, not lib64: the multi-os directory would split /opt/salt's libraries in two.
    # libffi's configure finds mkostemp, memfd_create and secure_getenv by linking, so
    # within an older glibc it takes mkstemp and getenv.
    unpack libffi 'libffi_*.orig.tar.*'
    autotools --disable-static --disable-docs --disable-multi-os-directory

    # Certificates and openssl.cnf where EL keeps them (ca-certificates' /etc/pki/tls). Its
    # getauxval and secure_getenv are behind __GLIBC_PREREQ (zig defines __GLIBC_MINOR__
    # from the target).
    unpack openssl 'openssl_*.orig.tar.*'
    ./Configure linux-x86_64 --prefix="$PREFIX" --libdir=lib --openssldir=/etc/pki/tls \
        shared no-tests
    # No static libcrypto and libssl: nothing links them (the recipes delete lib/*.a), and
    # OpenSSL 3 compiles every source of libcrypto a second time for them (761 of 1881
    # objects). LIBS is the Makefile's list of static libraries, without those two.
    local shared_only
    shared_only="LIBS=$(perl -0ne 'print "$1\n" if /^LIBS=((?:.*\\\n)*.*)$/m' Makefile |
        tr -d '\\' | xargs -n1 | grep -vx -e libcrypto.a -e libssl.a | xargs)"
    make -j2 "$shared_only" INSTALL_LIBS= > make.out 2>&1 || { tail -40 make.out; exit 1; }
    make install_sw "$shared_only" INSTALL_LIBS= > /dev/null
    if ls "$PREFIX"/lib/lib{crypto,ssl}.a 2>/dev/null; then echo "static OpenSSL built"; exit 1; fi
    # Its Windows CryptoAPI engine is built everywhere: here an empty stub that links nothing.
    rm -f "$PREFIX"/lib/engines-*/capi.so

    # Headers in include/ncursesw (CPython looks there); terminfo comes from the system's.
    unpack ncurses 'ncurses_*.orig.tar.*'
    autotools --with-shared --without-normal --without-debug --without-ada --without-cxx \
        --without-cxx-binding --without-tests --without-manpages --without-progs \
        --enable-widec --disable-db-install --disable-stripping \
        --with-default-terminfo-dir=/usr/share/terminfo \
        --with-terminfo-dirs=/etc/terminfo:/usr/share/terminfo:/lib/terminfo:/usr/lib/terminfo

    unpack readline 'readline_*.orig.tar.*'
    # Upstream's patch 001 for 8.2: setlocale() returns NULL for a locale the system lacks
    # (LANG=C.UTF-8 on EL7) and _rl_init_locale copied that NULL: `import readline` crashed.
    perl -0pi -e 's/(  ret = setlocale \(LC_CTYPE, lspec\);[^\n]*\n)/$1  if (ret == 0 || *ret == 0)\n    ret = setlocale (LC_CTYPE, (char *)NULL);\n  if (ret == 0 || *ret == 0)\n    ret = RL_DEFAULT_LOCALE;\n/' nls.c
    grep -q 'ret = RL_DEFAULT_LOCALE;' nls.c
    ./configure --prefix="$PREFIX" --disable-static --with-curses > configure.out 2>&1 ||
        { tail -40 configure.out; exit 1; }
    make -j2 SHLIB_LIBS=-lncursesw && make install SHLIB_LIBS=-lncursesw

    unpack gdbm 'gdbm_*.orig.tar.*'
    autotools --disable-static --disable-nls --without-readline

    if [ "${PYTHON_SERIES%%.*}" = 3 ]; then
        unpack util-linux 'util-linux_*.orig.tar.*'
        autotools --disable-all-programs --enable-libuuid --disable-static --disable-nls \
            --disable-bash-completion --without-systemd --without-udev --without-python \
            --without-tinfo --without-ncursesw --without-ncurses --disable-asciidoc
    fi

    unpack sqlite 'sqlite3_*.orig.tar.*'
    CFLAGS="-O2 -DSQLITE_ENABLE_FTS3 -DSQLITE_ENABLE_FTS3_PARENTHESIS -DSQLITE_ENABLE_FTS4 \
-DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_RTREE -DSQLITE_ENABLE_COLUMN_METADATA \
-DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_SECURE_DELETE -DSQLITE_MAX_VARIABLE_NUMBER=250000" \
        TCLSH_CMD=tclsh autotools --disable-static --disable-tcl --disable-readline \
        --disable-editline --enable-threadsafe

    # CPython's own copy of expat is older; pyexpat takes this one (--with-system-expat).
    unpack expat 'expat_*.orig.tar.*'
    cmake_build expat -DEXPAT_BUILD_TOOLS=OFF -DEXPAT_BUILD_EXAMPLES=OFF \
        -DEXPAT_BUILD_TESTS=OFF -DEXPAT_BUILD_DOCS=OFF -DEXPAT_SHARED_LIBS=ON \
        > build.out 2>&1 || { tail -40 build.out; exit 1; }

    # C++: libstdc++ and libgcc linked in statically, EL7's (GLIBCXX_3.4.19) is too old.
    # No libsodium: CURVE comes from the bundled tweetnacl. (Where pyzmq's wheel fits the
    # target, it brings its own libzmq: WITH_ZMQ=0.)
    if [ "$WITH_ZMQ" = 1 ]; then
        unpack zeromq 'zeromq3_*.orig.tar.*'
        cmake_build . -DBUILD_TESTS=OFF -DBUILD_STATIC=OFF -DWITH_DOCS=OFF \
            -DWITH_PERF_TOOL=OFF -DENABLE_CPACK=OFF -DENABLE_PRECOMPILED=OFF \
            -DWITH_LIBSODIUM=OFF -DENABLE_CURVE=ON -DWITH_LIBBSD=OFF -DENABLE_DRAFTS=OFF \
            -DCMAKE_SHARED_LINKER_FLAGS="$LDFLAGS -static-libstdc++ -static-libgcc" \
            > build.out 2>&1 || { tail -40 build.out; exit 1; }
    fi
}

# The C libraries of EL6's and EL5's interpreters are one set, built once for the older glibc
# (builds/portable.py SHARED_LIBRARIES_GLIBC, with PYTHON_SERIES=3) and unpacked from
# $LIBRARIES_TAR: glibc keeps every old symbol version, so what links within 2.5 loads on
# 2.12. Without $LIBRARIES_TAR (EL7's, compiled with the ppbt toolchain) they are built here.
provide_libraries() {
    if [ -z "${LIBRARIES_TAR:-}" ]; then
        build_libraries
        return
    fi
    echo "=== the C libraries, from ${LIBRARIES_TAR##*/} ($(date +%T))"
    tar -xf "$LIBRARIES_TAR" -C "$PREFIX"
    if [ "${PYTHON_SERIES%%.*}" = 2 ]; then  # 2.7 takes no lzma and no _uuid (as above)
        rm -rf "$PREFIX"/lib/liblzma.* "$PREFIX"/lib/libuuid.* "$PREFIX"/include/lzma* \
            "$PREFIX"/include/uuid "$PREFIX"/lib/pkgconfig/liblzma.pc \
            "$PREFIX"/lib/pkgconfig/uuid.pc "$PREFIX"/sbin "$PREFIX"/share/bash-completion
    fi
}

# ---- every ELF: stripped, no kernel note, /opt/salt/lib found relative to itself ------------
relocate_elf_files() {
    local f rel rpath old left
    printf '\177ELF' > "$WORK/elf-magic"
    find "$PREFIX" -type f ! -name '*.py' ! -name '*.pyc' | while read -r f; do
        cmp -s -n 4 "$f" "$WORK/elf-magic" || continue
        $STRIP --strip-debug "$f"
        # ppbt's crt files tag binaries "for GNU/Linux 5.16.9": EL7 runs 3.10, EL6 2.6.32,
        # EL5 2.6.18.
        if $READELF -S "$f" | grep -q '\.note\.ABI-tag'; then
            $OBJCOPY --remove-section=.note.ABI-tag "$f"
        fi
        # Programs and libraries 0755 (cmake and CPython install some libraries 0644, 0555).
        case $($READELF -h "$f" | awk '$1 == "Type:" {print $2}') in
            EXEC | DYN) chmod 0755 "$f" ;;
        esac
        if $READELF -d "$f" | grep -q '(NEEDED)'; then
            rel=$(realpath --relative-to="$(dirname "$f")" "$PREFIX/lib")
            [ "$rel" = . ] && rpath='$ORIGIN' || rpath="\$ORIGIN/$rel"
            old=$(patchelf --print-rpath "$f")
            [ ${#old} -ge ${#rpath} ] ||
                { echo "$f: rpath '$old' leaves no room for $rpath"; exit 1; }
            patchelf --force-rpath --set-rpath "$rpath" "$f"
        elif $READELF -d "$f" | grep -q '(R\(UN\)\?PATH)'; then
            patchelf --remove-rpath "$f"  # the build's own, and nothing to find with it
        fi
    done
    left=$(grep -rl -- "$WORK" "$PREFIX" || true)
    [ -z "$left" ] || { echo "build path $WORK left in: $left"; exit 1; }
}
