"""zig's global cache, kept on the host from one build box to the next.

On its first use for a target, zig cc compiles what that target links: the glibc version's
stubs, compiler_rt, and for a C++ link libc++ and libc++abi (over a minute of both cores
each time). A build box starts empty, so every box that compiled with zig paid for it again:
the C libraries, each interpreter, each package set's sdists. zig names each file of the cache
by the hash of what made it, so the caches of several boxes merge into one by adding the files
one of them lacks.

    bring(runner)   # the host's cache into ON_BOX (ZIG_GLOBAL_CACHE_DIR on the box)
    keep(runner)    # the files the box added, into the host's cache
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from harness import state, toolchain
from harness.runner import capture

from .errors import BuildError
from .inputs import cache_root
from .remote import BoxRunner

ON_BOX = "/var/tmp/svh-zig-cache"


def host_dir() -> Path:
    return cache_root() / "zig-cache" / f"zig-{toolchain.ZIG_VERSION}"


def _lock() -> Path:
    return host_dir().with_name(f".{host_dir().name}.lock")


def _files(root: Path) -> set[str]:
    if not root.is_dir():
        return set()
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def bring(runner: BoxRunner) -> None:
    """The host's cache into ON_BOX, when there is one."""
    with state.locked(_lock()):
        if host_dir().is_dir():  # keep() makes it only to put files in
            runner.copy_in(host_dir(), ON_BOX, "copying zig's compiled runtimes in")


def keep(runner: BoxRunner) -> None:
    """Add the files zig compiled on the box (not its scratch dir, tmp/) to the host's."""
    listing = runner.output(
        f"cd {ON_BOX} 2>/dev/null && find . -path ./tmp -prune -o -type f -print || true",
        "listing zig's cache",
    )
    new = sorted({f[2:] for f in listing.split() if f.startswith("./")} - _files(host_dir()))
    if not new:
        return
    runner.machine.write_text(f"{ON_BOX}.new", "\n".join(new) + "\n")
    runner.run(f"tar -C {ON_BOX} -cf {ON_BOX}.tar -T {ON_BOX}.new", "packing what zig compiled")
    with tempfile.TemporaryDirectory(prefix=".zig-", dir=cache_root()) as tmp:
        tar = Path(tmp) / "new.tar"
        runner.fetch(f"{ON_BOX}.tar", tar, "keeping zig's compiled runtimes")
        with state.locked(_lock()):
            host_dir().mkdir(parents=True, exist_ok=True)
            done = capture(["tar", "-x", "--skip-old-files", "-C", str(host_dir()), "-f", str(tar)])
        if done.returncode != 0:
            raise BuildError(f"unpacking zig's cache into {host_dir()}: {done.stderr.strip()}")
    runner.run(f"rm -f {ON_BOX}.tar {ON_BOX}.new", "removing the packed cache")
