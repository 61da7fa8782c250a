# The ppbt toolchain's compiler wrappers and stubs, for a build against its glibc 2.17; sourced
# by the recipes that build with it (builds/portable_recipe.sh, harness/providers/nspawn/
# el7_python.sh), with $TOOLCHAIN (the toolchain) and $WORK (the build tree) set:
#   . "$TOOLCHAIN_WRAPPERS" && toolchain_wrappers DIR [STUB...]
# The compiler wrappers add the prefix map, so no build path lands in __FILE__ strings, and
# they keep it out of the flags that sysconfig, openssl and *-config scripts record. The stubs
# fail: dpkg-architecture (always) and pkg-config (when asked) would hand the build box's own
# (glibc 2.36) headers and libraries to the builds.
toolchain_wrappers() {
    local dir=$1 triplet=x86_64-linux-gnu tool
    shift
    for tool in gcc g++; do
        printf '#!/bin/sh\nexec %s "$@" -ffile-prefix-map=%s/=\n' \
            "$TOOLCHAIN/bin/$triplet-$tool" "$WORK" > "$dir/$triplet-$tool"
    done
    for tool in dpkg-architecture "$@"; do
        printf '#!/bin/sh\nexit 1\n' > "$dir/$tool"
    done
    chmod +x "$dir"/*
}
