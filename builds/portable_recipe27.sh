# Build CPython 2.7 and the C libraries it uses into $PREFIX for EL5's glibc 2.5 with zig cc,
# on a Debian build box: the C libraries, wrappers and $ORIGIN rpaths of every portable
# build (portable_libraries.sh), and Python 2.7's configure, modules and install, which
# differ from 3.x's (portable_recipe.sh). A file of its own: the recipe's text is part of
# each interpreter's cache key, and the 3.x interpreters (EL6, EL7) need not rebuild for a
# change that is 2.7's only. Run by
# builds/portable.py as
#   WORK=... PREFIX=... TOOLCHAIN=... TOOLCHAIN_WRAPPERS=... GLIBC=2.5 PYTHON_SERIES=2.7 \
#       WITH_ZMQ=0 PATCHELF=... bash portable_recipe27.sh
# with the Debian orig tarballs (and the build-only tools) in $WORK/dl.
#
# No pip: as for 3.x, the payload installs pip (20.3.4, the last for 2.7) from the build
# lock's wheels.
set -euo pipefail
: "${WORK:?}" "${PREFIX:?}" "${TOOLCHAIN:?}" "${TOOLCHAIN_WRAPPERS:?}" "${PYTHON_SERIES:?}"
: "${WITH_ZMQ:?}" "${GLIBC:?}"
[ "$PYTHON_SERIES" = 2.7 ] || { echo "portable_recipe27.sh builds Python 2.7 only"; exit 1; }
[ "$WITH_ZMQ" = 0 ] || { echo "no libzmq for Python 2.7: pyzmq's manylinux1 wheel has one"; exit 1; }
. "$WORK/dl/portable_libraries.sh"  # the tools, the environment, the C libraries
provide_libraries

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
# No -O bytecode: the install's two -O compileall runs are dropped. The plain ones stay: a
# module without its .pyc would be compiled, and written into /opt/salt, when root first
# imports it.
sed -i 's/\$(PYTHON_FOR_BUILD) -Wi -tt\? -O \$(DESTDIR)/: $(DESTDIR)/' Makefile
[ "$(grep -c ': $(DESTDIR)$(LIBDEST)/compileall.py' Makefile)" = 2 ]
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
rm -rf "$py"/test "$py"/lib-tk/test "$py"/idlelib/idle_test "$py"/idlelib/idle.bat
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

relocate_elf_files
