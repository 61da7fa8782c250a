# Build an EL release's system Python (2.7, at /usr/bin/python) and the release's libraries
# that conflict with Salt's, for glibc 2.17, with the ppbt toolchain, on the host. Run by
# system_python.py in two steps, each cached on its own:
#   WORK=... OUT=... TOOLCHAIN=... TOOLCHAIN_WRAPPERS=... bash system_python.sh interpreter
#     with zlib, OpenSSL, zeromq and python2.7's sources in $WORK/dl: Python 2.7 into
#     $OUT/python/usr/..., and its build inputs (static OpenSSL and zlib, libzmq) into $OUT/deps;
#   WORK=... OUT=... INTERPRETER=... LIBRARIES=... (as above) bash system_python.sh libraries
#     with the libraries' sdists in $WORK/dl and the first step's output in $INTERPRETER: the
#     interpreter into $OUT/python, and each library into $OUT/<the release's package name>,
#     one line of $LIBRARIES each: PACKAGE ARCHIVE HOW [ARG...] (HOW: setup, copy, pyzmq,
#     pycrypto2).
# Laid out as EL lays them out (/usr/bin, /usr/lib/python2.7/site-packages, /usr/lib64).
set -euo pipefail
: "${WORK:?}" "${OUT:?}" "${TOOLCHAIN:?}" "${TOOLCHAIN_WRAPPERS:?}"
T=x86_64-linux-gnu
DEPS=$WORK/deps  # static OpenSSL and zlib, libzmq's headers: build inputs only
SRC=$WORK/src
TOOLS=$WORK/tools
PYROOT=$OUT/python
mkdir -p "$DEPS/lib" "$DEPS/include" "$SRC" "$TOOLS" "$OUT"

. "$TOOLCHAIN_WRAPPERS"
toolchain_wrappers "$TOOLS" pkg-config
export PATH="$TOOLS:$TOOLCHAIN/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export CC=$T-gcc CXX=$T-g++ AR=$T-ar RANLIB=$T-ranlib
export CFLAGS="-O2 -fPIC" CXXFLAGS="-O2 -fPIC"
unset LD_LIBRARY_PATH PYTHONPATH PYTHONHOME PYTHONDONTWRITEBYTECODE CPPFLAGS LDFLAGS

unpack() {  # unpack ARCHIVE-PATTERN into $SRC/$1 and cd there
    echo "=== $1 ($(date +%T))"
    rm -rf "${SRC:?}/$1" && mkdir -p "$SRC/$1"
    case $(echo "$WORK"/dl/$2) in
    *.zip) (cd "$SRC" && python3 -m zipfile -e "$WORK"/dl/$2 "$1.zip" &&
            mv "$1".zip/*/* "$1"/ && rm -rf "$1.zip") ;;
    *) tar -xf "$WORK"/dl/$2 -C "$SRC/$1" --strip-components=1 ;;
    esac
    cd "$SRC/$1"
}
quiet() {  # run "$@" with its output in a log, shown on failure
    "$@" > "$SRC/step.log" 2>&1 || { tail -40 "$SRC/step.log"; exit 1; }
}
py() {  # the new interpreter, as if it were at /usr
    PYTHONHOME="$PYROOT/usr" "$PYROOT/usr/bin/python2.7" "$@"
}

# ---- step 1: C libraries, static into what uses them (EL has them as shared libraries; what
# the checks look at is the Python side) ------------------------------------------------------
build_c_libraries() {
    unpack zlib 'zlib_*.orig.tar.*'
    quiet ./configure --prefix="$DEPS" --static
    quiet make -j2 install

    unpack openssl 'openssl_1.1.1*.orig.tar.*'
    quiet ./Configure linux-x86_64 no-shared no-tests no-engine --prefix="$DEPS" \
        --openssldir=/etc/pki/tls -fPIC
    quiet make -j2 build_libs
    quiet make install_dev

    # The releases' python-zmq needs zeromq's libzmq: shared (the second step puts it in
    # /usr/lib64), C++ runtime linked in (EL's libstdc++ is older than gcc 11's).
    unpack zeromq 'zeromq3_*.orig.tar.*'
    cat > toolchain.cmake <<EOF
set(CMAKE_FIND_ROOT_PATH $TOOLCHAIN/$T/sysroot)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
EOF
    quiet cmake -S . -B build -DCMAKE_TOOLCHAIN_FILE="$PWD/toolchain.cmake" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$DEPS" -DCMAKE_INSTALL_LIBDIR=lib \
        -DBUILD_TESTS=OFF -DBUILD_STATIC=OFF -DWITH_DOCS=OFF -DWITH_PERF_TOOL=OFF \
        -DENABLE_CPACK=OFF -DENABLE_PRECOMPILED=OFF -DWITH_LIBSODIUM=OFF -DENABLE_CURVE=ON \
        -DWITH_LIBBSD=OFF -DENABLE_DRAFTS=OFF -DCMAKE_SKIP_RPATH=ON \
        -DCMAKE_SHARED_LINKER_FLAGS="-static-libstdc++ -static-libgcc"
    quiet cmake --build build -j2
    quiet cmake --install build
}

# ---- step 1: Python 2.7 at /usr: ssl, hashlib and zlib built into the interpreter ----------
build_python() {
    unpack python 'python2.7_*.orig.tar.*'
    cat > Modules/Setup.local <<EOF
_ssl _ssl.c -DUSE_SSL -I$DEPS/include -L$DEPS/lib -lssl -lcrypto -lpthread -ldl
_hashlib _hashopenssl.c -I$DEPS/include -L$DEPS/lib -lcrypto -lpthread -ldl
zlib zlibmodule.c -I$DEPS/include -L$DEPS/lib -lz
EOF
    # Modules whose libraries the toolchain lacks: setup.py would otherwise go looking for
    # them on the host.
    sed -i "s/^disabled_module_list = \[\]/disabled_module_list = ['_sqlite3', '_curses', \
'_curses_panel', 'readline', 'bz2', '_bsddb', 'dbm', 'gdbm', '_tkinter', 'nis']/" setup.py
    grep -q "^disabled_module_list = \['_sqlite3'" setup.py
    quiet ./configure --prefix=/usr --enable-unicode=ucs4 --with-ensurepip=no
    quiet make -j2
    quiet make install DESTDIR="$PYROOT"
    ln -sf python2 "$PYROOT/usr/bin/python"
    rm -rf "$PYROOT"/usr/lib/python2.7/test "$PYROOT"/usr/share/man \
        "$PYROOT"/usr/lib/python2.7/config/libpython2.7.a
    py -c 'import ssl, hashlib, zlib, ctypes, json; print(ssl.OPENSSL_VERSION)'
}

# ---- step 2: the release's libraries, each into its own package's tree ---------------------
install_setup() {  # PACKAGE [setup.py options...]: distutils' install into $OUT/PACKAGE
    local package=$1; shift
    quiet py setup.py "$@" install --prefix=/usr --root="$OUT/$package" \
        --install-lib=/usr/lib/python2.7/site-packages
}
install_copy() {  # PACKAGE DIR: the sdist's DIR as is, with its egg-info (setuptools-only sdists)
    local site=$OUT/$1/usr/lib/python2.7/site-packages
    mkdir -p "$site"
    cp -a "$2" "$site/"
    local name version
    name=$(sed -n 's/^Name: //p' PKG-INFO) version=$(sed -n 's/^Version: //p' PKG-INFO)
    cp PKG-INFO "$site/$name-$version-py2.7.egg-info"
    py -m compileall -q -d /usr/lib/python2.7/site-packages/"$2" "$site/$2" > /dev/null
}
install_pyzmq() {  # PACKAGE: pyzmq against the first step's libzmq, which it carries
    mkdir -p "$OUT/$1/usr/lib64"
    cp -P "$DEPS"/lib/libzmq.so.5* "$OUT/$1/usr/lib64/"
    $T-strip --strip-unneeded "$OUT/$1"/usr/lib64/libzmq.so.5.*
    printf '[global]\nskip_check_zmq = True\n' > setup.cfg
    CFLAGS="$CFLAGS -I$DEPS/include" \
        LDFLAGS="-L$DEPS/lib -Wl,-rpath,/usr/lib64 -static-libgcc" \
        install_setup "$1"
}
install_pycrypto2() {  # PACKAGE: PyCrypto 2.0.x, whose setup.py looks for GMP in the host's
    # /lib and /usr/lib: the toolchain has none, so no _fastmath (the pure-Python RSA remains)
    sed -i "s/if (self.compiler.find_library_file(lib_dirs, 'gmp')):/if False:/" setup.py
    grep -q "^        if False:" setup.py
    install_setup "$1"
}

build_libraries() {
    : "${INTERPRETER:?}" "${LIBRARIES:?}"
    cp -a "$INTERPRETER/python" "$PYROOT"
    cp -a "$INTERPRETER/deps/." "$DEPS/"
    local line words
    while read -r line; do
        [ -n "$line" ] || continue
        read -ra words <<< "$line"
        # $SRC/<project, lower case>: the build path the toolchain's prefix map leaves
        unpack "$(echo "${words[1]%-*}" | tr '[:upper:]' '[:lower:]')" "${words[1]}"
        "install_${words[2]}" "${words[0]}" "${words[@]:3}"
    done <<< "$LIBRARIES"
}

# ---- what EL would not have ---------------------------------------------------------------
strip_elves() {  # DIR...
    # The toolchain's crt files tag programs "for GNU/Linux 5.16.9"; EL7 runs 3.10, EL6 2.6.32.
    printf '\177ELF' > "$WORK/elf-magic"
    find "$@" -type f | while read -r f; do
        cmp -s -n 4 "$f" "$WORK/elf-magic" || continue
        $T-strip --strip-debug "$f"
        ! $T-readelf -S "$f" | grep -q '\.note\.ABI-tag' ||
            $T-objcopy --remove-section=.note.ABI-tag "$f"
    done
}
unname_work() {  # DIR...
    # What the build recorded of itself (sysconfig, config/Makefile) names EL's build root; a
    # module changed so is compiled again (a stale .pyc would be rewritten by its first import).
    { grep -rlI -- "$WORK" "$@" || [ $? = 1 ]; } | while read -r f; do
        sed -i "s|$WORK|/builddir/build|g" "$f"
        case $f in *.py)
            for optimize in "" -O; do
                py $optimize -c 'import py_compile, sys
py_compile.compile(sys.argv[1], dfile=sys.argv[2], doraise=True)' "$f" "/${f#"$OUT"/*/}"
            done ;;
        esac
    done
}

case ${1:-} in
interpreter)
    build_c_libraries
    build_python
    strip_elves "$PYROOT"
    unname_work "$PYROOT"
    cp -a "$DEPS" "$OUT/deps"
    ;;
libraries)
    build_libraries
    # The interpreter's files were done in the first step; the libraries' builds may still
    # have left something of theirs in its tree.
    libraries=$(find "$OUT" -mindepth 1 -maxdepth 1 ! -path "$PYROOT")
    # shellcheck disable=SC2086  # package names have no spaces
    strip_elves $libraries
    unname_work "$OUT"
    ;;
*) echo "usage: system_python.sh interpreter|libraries" >&2; exit 2 ;;
esac
echo "=== done ($(date +%T))"
