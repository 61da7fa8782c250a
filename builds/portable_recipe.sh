# Build CPython and the C libraries it needs into $PREFIX for an old glibc (EL7's 2.17 with
# the ppbt toolchain, EL6's 2.12 with zig cc), on a Debian build box. Run by
# builds/portable.py as
#   WORK=... PREFIX=... TOOLCHAIN=... TOOLCHAIN_WRAPPERS=... GLIBC=2.17 PYTHON_SERIES=3.11 \
#       WITH_ZMQ=1 bash portable_recipe.sh
# with the Debian orig tarballs (and the build-only tools) in $WORK/dl. TOOLCHAIN_WRAPPERS
# defines toolchain_wrappers, which puts $T-gcc, $T-ar ... for the target into a directory;
# portable_libraries.sh (beside this file in $WORK/dl) builds the C libraries.
set -euo pipefail
: "${WORK:?}" "${PREFIX:?}" "${TOOLCHAIN:?}" "${TOOLCHAIN_WRAPPERS:?}" "${PYTHON_SERIES:?}"
: "${WITH_ZMQ:?}" "${GLIBC:?}"
. "$WORK/dl/portable_libraries.sh"  # the tools, the environment, the C libraries
provide_libraries

# No PGO/LTO: the build boxes have two cores. sysconfig keeps LDFLAGS' rpath to /opt/salt/lib
# on purpose: extensions built later against /opt/salt's libraries (libffi, libssl) need it.
# No test suite, no test modules and no -O/-OO bytecode: none is part of a runtime, and
# compiling them costs minutes of this build.
unpack python "python${PYTHON_SERIES}_*.orig.tar.*"
# 3.9's setup.py looks for uuid.h itself, not uuid/uuid.h: _uuid is left out without this.
py_include=-I$PREFIX/include/ncursesw
[ "$PYTHON_SERIES" != 3.9 ] || py_include="$py_include -I$PREFIX/include/uuid"
# 3.9's setup.py links _crypt with -lcrypt only where it finds libcrypt.so in the build box's
# own directories: without it, crypt stays undefined and the module is dropped. zig has no
# libcrypt of the target to link with, nor its crypt.h: a stub of glibc's (soname
# libcrypt.so.1, crypt at GLIBC_2.2.5, as every glibc has it) and its one declaration stand
# in for the compile and the link, outside /opt/salt.
if [ "$PYTHON_SERIES" = 3.9 ]; then
    stubs=$WORK/link-stubs
    mkdir -p "$stubs"
    echo 'char *crypt(const char *key, const char *salt);' > "$stubs/crypt.h"
    echo 'char *crypt(const char *key, const char *salt) { return 0; }' > "$stubs/crypt.c"
    echo 'GLIBC_2.2.5 { global: crypt; local: *; };' > "$stubs/crypt.map"
    $T-gcc -shared -fPIC -o "$stubs/libcrypt.so" "$stubs/crypt.c" -Wl,-soname,libcrypt.so.1 \
        -Wl,--version-script="$stubs/crypt.map"
    printf '*shared*\n_crypt _cryptmodule.c -DHAVE_CRYPT_H -I%s -L%s -lcrypt\n' \
        "$stubs" "$stubs" > Modules/Setup.local
fi
CPPFLAGS="$CPPFLAGS $py_include" ./configure --prefix="$PREFIX" --enable-shared \
    --with-ensurepip=no --without-static-libpython --with-openssl="$PREFIX" --with-system-expat \
    --disable-test-modules > configure.out 2>&1 || { tail -40 configure.out; exit 1; }
# configure finds prlimit by compiling only; glibc gained it in 2.13, so for an older target
# resource.so would need an unversioned prlimit64 that the target lacks (the ABI gate's
# unversioned-symbol finding).
if [ "${GLIBC#2.}" -lt 13 ]; then
    sed -i 's|^#define HAVE_PRLIMIT 1$|#undef HAVE_PRLIMIT|' pyconfig.h
    if grep -q '^#define HAVE_PRLIMIT' pyconfig.h; then echo "HAVE_PRLIMIT still set"; exit 1; fi
fi
sed -i 's/\$(PYTHON_FOR_BUILD) -Wi -OO\? \$(DESTDIR)/: $(DESTDIR)/' Makefile
[ "$(grep -c ': $(DESTDIR)$(LIBDEST)/compileall.py' Makefile)" = 4 ]
make -j2
# 3.9 knows no --disable-test-modules: its test packages leave the source before make install,
# which passes over a library directory the source lacks (nor compiles them), and the test
# extensions go after it.
if [ "$PYTHON_SERIES" = 3.9 ]; then
    rm -rf Lib/test Lib/*/test Lib/*/tests Lib/idlelib/idle_test
fi
make install > install.out 2>&1 || { tail -40 install.out; exit 1; }
if [ "$PYTHON_SERIES" = 3.9 ]; then
    rm -f "$PREFIX/lib/python3.9/lib-dynload/"{_test,_xxtest,_ctypes_test,xxlimited}*.so
fi
# setup.py renames an extension that does not import to NAME_failed.so and goes on.
failed=$(find "$PREFIX/lib" -name '*_failed.so')
[ -z "$failed" ] || { echo "extension modules that do not import: $failed"; exit 1; }

# ---- trim, then make every ELF find /opt/salt/lib relative to itself ----------------------
py=$PREFIX/lib/python$PYTHON_SERIES
rm -rf "$PREFIX/share/man" "$PREFIX/share/doc" "$PREFIX/share/info"
find "$PREFIX/lib" -maxdepth 1 \( -name '*.a' -o -name '*.la' \) -delete
# 3.9 also keeps a static libpython in config-3.9-*/, carrying the build paths
rm -f "$py"/config-"$PYTHON_SERIES"-*/libpython*.a
# Only the interpreter's own commands (and openssl) in bin: c_rehash is a perl script,
# *-config scripts describe the build box.
find "$PREFIX/bin" -mindepth 1 ! \( -name 'python3*' -o -name 'pydoc3*' -o -name '2to3*' \
    -o -name 'idle3*' -o -name openssl \) -exec rm -f {} +
# sysconfig names the compilers without the toolchain's prefix, so a user of the installed
# payload gets the system's gcc; the build box passes compile_env() instead.
build_dir=$SRC/python
# The link stubs (3.9's _crypt) were for this build only.
for f in "$py"/_sysconfigdata_*.py "$py"/config-"$PYTHON_SERIES"-*/Makefile \
    "$py"/config-"$PYTHON_SERIES"-*/Setup.local "$PREFIX/bin/python$PYTHON_SERIES-config"; do
    [ -f "$f" ] || continue
    sed -i -e "s|$build_dir|$PREFIX|g" -e "s|:$room||g" -e "s| -[IL]$WORK/link-stubs||g" \
        -e "s/\b$T-\(gcc\|g++\|cpp\|ar\|ranlib\|readelf\)/\1/g" "$f"
done
"$PREFIX/bin/python$PYTHON_SERIES" -m compileall -q -f -d "$py" "$py"/_sysconfigdata_*.py > /dev/null

relocate_elf_files
