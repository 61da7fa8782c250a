# Build EL7's system Python (2.7, at /usr/bin/python) and EPEL's libraries that conflict with
# Salt's, for glibc 2.17, with the ppbt toolchain, on the host. Run by el7_python.py as
#   WORK=... OUT=... TOOLCHAIN=... TOOLCHAIN_WRAPPERS=... bash el7_python.sh
# with the sources in $WORK/dl. Each package's files land in $OUT/<EL7 package name>/usr/...,
# laid out as EL7 lays them out (/usr/bin, /usr/lib/python2.7/site-packages, /usr/lib64).
set -euo pipefail
: "${WORK:?}" "${OUT:?}" "${TOOLCHAIN:?}" "${TOOLCHAIN_WRAPPERS:?}"
T=x86_64-linux-gnu
DEPS=$WORK/deps  # static OpenSSL and zlib, libzmq's headers: build inputs only
SRC=$WORK/src
TOOLS=$WORK/tools
PYROOT=$OUT/python
mkdir -p "$DEPS/lib" "$DEPS/include" "$SRC" "$TOOLS"

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

# ---- C libraries, static into what uses them (EL7 has them as shared libraries; what the
# checks look at is the Python side) ---------------------------------------------------------
unpack zlib 'zlib_*.orig.tar.*'
quiet ./configure --prefix="$DEPS" --static
quiet make -j2 install

unpack openssl 'openssl_1.1.1*.orig.tar.*'
quiet ./Configure linux-x86_64 no-shared no-tests no-engine --prefix="$DEPS" \
    --openssldir=/etc/pki/tls -fPIC
quiet make -j2 build_libs
quiet make install_dev

# EPEL's python-zmq needs zeromq's libzmq: shared, in /usr/lib64, C++ runtime linked in
# (EL7's libstdc++ is older than gcc 11's).
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
mkdir -p "$OUT/python-zmq/usr/lib64"
cp -P "$DEPS"/lib/libzmq.so.5* "$OUT/python-zmq/usr/lib64/"
$T-strip --strip-unneeded "$OUT"/python-zmq/usr/lib64/libzmq.so.5.*

# ---- Python 2.7 at /usr: ssl, hashlib and zlib built into the interpreter ---------------
unpack python 'python2.7_*.orig.tar.*'
cat > Modules/Setup.local <<EOF
_ssl _ssl.c -DUSE_SSL -I$DEPS/include -L$DEPS/lib -lssl -lcrypto -lpthread -ldl
_hashlib _hashopenssl.c -I$DEPS/include -L$DEPS/lib -lcrypto -lpthread -ldl
zlib zlibmodule.c -I$DEPS/include -L$DEPS/lib -lz
EOF
# Modules whose libraries the toolchain lacks: setup.py would otherwise go looking for them
# on the host.
sed -i "s/^disabled_module_list = \[\]/disabled_module_list = ['_sqlite3', '_curses', \
'_curses_panel', 'readline', 'bz2', '_bsddb', 'dbm', 'gdbm', '_tkinter', 'nis']/" setup.py
grep -q "^disabled_module_list = \['_sqlite3'" setup.py
quiet ./configure --prefix=/usr --enable-unicode=ucs4 --with-ensurepip=no
quiet make -j2
quiet make install DESTDIR="$PYROOT"
ln -sf python2 "$PYROOT/usr/bin/python"
rm -rf "$PYROOT"/usr/lib/python2.7/test "$PYROOT"/usr/share/man \
    "$PYROOT"/usr/lib/python2.7/config/libpython2.7.a
py() {  # the new interpreter, as if it were at /usr
    PYTHONHOME="$PYROOT/usr" "$PYROOT/usr/bin/python2.7" "$@"
}
py -c 'import ssl, hashlib, zlib, ctypes, json; print(ssl.OPENSSL_VERSION)'

# ---- EPEL's and the base's libraries, each into its own package's tree -------------------
setup_install() {  # PACKAGE [setup.py options...]: distutils' install into $OUT/PACKAGE
    local package=$1; shift
    quiet py setup.py "$@" install --prefix=/usr --root="$OUT/$package" \
        --install-lib=/usr/lib/python2.7/site-packages
}
copy_install() {  # PACKAGE DIR: the sdist's DIR as is, with its egg-info (setuptools-only sdists)
    local site=$OUT/$1/usr/lib/python2.7/site-packages
    mkdir -p "$site"
    cp -a "$2" "$site/"
    local name version
    name=$(sed -n 's/^Name: //p' PKG-INFO) version=$(sed -n 's/^Version: //p' PKG-INFO)
    cp PKG-INFO "$site/$name-$version-py2.7.egg-info"
    py -m compileall -q -d /usr/lib/python2.7/site-packages/"$2" "$site/$2" > /dev/null
}

unpack pycrypto 'pycrypto-*.tar.gz'
setup_install python-crypto
unpack tornado 'tornado-*.tar.gz'
setup_install python-tornado
unpack pyyaml 'PyYAML-*.tar.gz'
setup_install PyYAML --without-libyaml
unpack markupsafe 'MarkupSafe-*.tar.gz'
copy_install python-markupsafe markupsafe
unpack jinja2 'Jinja2-*.tar.gz'
copy_install python-jinja2 jinja2
unpack requests 'requests-*.tar.gz'
setup_install python-requests
unpack pyzmq 'pyzmq-*.zip'
printf '[global]\nskip_check_zmq = True\n' > setup.cfg
CFLAGS="$CFLAGS -I$DEPS/include" \
    LDFLAGS="-L$DEPS/lib -Wl,-rpath,/usr/lib64 -static-libgcc" \
    setup_install python-zmq

# ---- what EL7 would not have ---------------------------------------------------------------
# The toolchain's crt files tag programs "for GNU/Linux 5.16.9"; EL7 runs 3.10.
printf '\177ELF' > "$WORK/elf-magic"
find "$OUT" -type f | while read -r f; do
    cmp -s -n 4 "$f" "$WORK/elf-magic" || continue
    $T-strip --strip-debug "$f"
    ! $T-readelf -S "$f" | grep -q '\.note\.ABI-tag' ||
        $T-objcopy --remove-section=.note.ABI-tag "$f"
done
# What the build recorded of itself (sysconfig, config/Makefile) names EL7's build root; a
# module changed so is compiled again (a stale .pyc would be rewritten by its first import).
grep -rlI -- "$WORK" "$OUT" | while read -r f; do
    sed -i "s|$WORK|/builddir/build|g" "$f"
    case $f in *.py)
        for optimize in "" -O; do
            py $optimize -c 'import py_compile, sys
py_compile.compile(sys.argv[1], dfile=sys.argv[2], doraise=True)' "$f" "/${f#"$OUT"/*/}"
        done ;;
    esac
done
echo "=== done ($(date +%T))"
