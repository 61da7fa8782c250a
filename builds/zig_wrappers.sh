# zig cc as the compiler for a target glibc older than any toolchain sysroot here (EL6's
# 2.12): zig links against its own stubs of that glibc version and refuses newer symbols.
# Sourced by builds/portable_libraries.sh with $TOOLCHAIN (the ziglang package), $PATCHELF (the
# ppbt toolchain's: zig has none), $GLIBC, $WORK and $PREFIX set:
#   . "$TOOLCHAIN_WRAPPERS" && toolchain_wrappers DIR [STUB...]
# It writes the same $T-gcc, $T-ar ... names the ppbt toolchain has, so the recipe and the
# sysconfig clean-up are one for both. The binutils are the build box's own (x86_64 ELF).
toolchain_wrappers() {
    local dir=$1 triplet=x86_64-linux-gnu tool
    shift
    # zig's global cache (the target's glibc stubs, compiler_rt, libc++) where the build
    # puts it (builds/zig_cache.py keeps it from box to box), else in the build tree; what
    # it compiles for the recipe stays in the build tree.
    export ZIG_GLOBAL_CACHE_DIR=${ZIG_GLOBAL_CACHE_DIR:-$WORK/zig-cache}
    export ZIG_LOCAL_CACHE_DIR=$WORK/zig-cache
    # clang makes errors of what gcc only warns about in older C (libffi 3.4.4's tramp.c,
    # gdbm's __DATE__). zig's linker takes neither -stats nor -lc through -Wl (ncurses'
    # shared-library link line; libc is linked anyway) nor -h for -soname (libpython's), and
    # takes an input named *.so for a shared library: readline names its PIC objects so,
    # and they go in as *.so.o links.
    local lenient="-Wno-error=implicit-function-declaration -Wno-error=int-conversion"
    lenient="$lenient -Wno-error=incompatible-function-pointer-types -Wno-error=date-time"
    # zig's features.h keeps the old scanf below glibc 2.7 (no __isoc99_sscanf, GLIBC_2.7),
    # but tests __GLIBC__ for it before defining __GLIBC__: defined up front, its test holds.
    # (portable.compile_env passes the same to the sdists compiled for the target.)
    local target="-target x86_64-linux-gnu.$GLIBC"
    [ "${GLIBC#2.}" -ge 7 ] || target="$target -D__GLIBC__=2"
    for tool in gcc:cc g++:c++; do
        {
            echo '#!/bin/sh'
            echo 'sources= libraries='
            echo 'for arg in "$@"; do'
            echo '    shift'
            echo '    case $arg in'
            echo '        -Wl,*,-stats*|-Wl,*,-lc)'
            echo '            arg=$(printf %s "$arg" | sed -e "s/,-stats//" -e "s/,-lc\$//") ;;'
            echo '        -Wl,-h?*) arg="-Wl,-soname,${arg#-Wl,-h}" ;;'
            echo '    esac'
            echo '    if [ "${arg%.so}" != "$arg" ] && [ -f "$arg" ] &&'
            echo '        [ "$(od -An -j16 -N2 -tu2 "$arg" | tr -d " ")" = 1 ]; then'
            echo '        ln -sf "${arg##*/}" "$arg.o" && arg=$arg.o  # ET_REL: an object'
            echo '    fi'
            echo '    case $arg in *.c|*.cc|*.cpp|*.o|*.s|*.S|*.a|-) sources=yes ;; esac'
            echo '    case $arg in *.so|*.so.*) [ -f "$arg" ] && libraries=yes ;; esac'
            echo '    set -- "$@" "$arg"'
            echo 'done'
            # A link whose only input is a shared library (libpython3.so) fails in zig: an
            # empty object goes along.
            echo "[ -n \"\$sources\" ] || [ -z \"\$libraries\" ] || set -- \"\$@\" $WORK/zig-empty.o"
            echo "exec $TOOLCHAIN/zig ${tool#*:} $target \"\$@\"" \
                "-ffile-prefix-map=$WORK/= $lenient"
        } > "$dir/$triplet-${tool%:*}"
    done
    echo 'int svh_zig_empty;' | "$TOOLCHAIN/zig" cc -target "x86_64-linux-gnu.$GLIBC" -x c -c - \
        -o "$WORK/zig-empty.o"
    for tool in ar ranlib nm strip readelf objcopy; do
        ln -sf "/usr/bin/$tool" "$dir/$triplet-$tool"
    done
    ln -sf "$PATCHELF" "$dir/patchelf"
    for tool in dpkg-architecture "$@"; do
        printf '#!/bin/sh\nexit 1\n' > "$dir/$tool"
    done
    chmod +x "$dir"/*
    SYSROOT=$PREFIX  # no sysroot: CMake finds only what was built into $PREFIX
}
