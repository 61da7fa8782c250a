"""Wheels compiled on the build box from the lock's sdists (salt itself, timelib, ...).

Compiling takes ~40 s, so the wheels are cached on the host, keyed by the sdists' hashes,
the build-backend lock, the box's release and its exact Python: a warm build copies them in.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from harness import progress

from .inputs import cache_root, filling, sdists, sha256_file
from .locks import digest
from .remote import BoxRunner


def cache_key(inputs: Path, box, python_version: str, env: dict[str, str] | None) -> str:
    parts = [f"{p.name}={sha256_file(p)}" for p in sdists(inputs)]
    compiler = sorted((env or {}).items())
    return digest(
        "wheels-v1",
        *parts,
        (inputs / "build-lock.txt").read_text(),
        box.codename,
        python_version,
        repr(compiler),
    )[:20]


def provide(
    runner: BoxRunner,
    box,
    inputs: Path,
    remote_inputs: str,
    python: str,
    python_version: str,
    remote_dir: str,
    env: dict[str, str] | None = None,
) -> list[str]:
    """Compiled wheels of the inputs' sdists in remote_dir on the box; return their names.
    `env` sets the compiler (the glibc 2.17 toolchain for portable payloads)."""
    todo = sdists(inputs)
    runner.run(f"rm -rf {remote_dir} && mkdir -p {remote_dir}", "preparing the wheel directory")
    if not todo:
        return []
    cached = cache_root() / "wheels" / cache_key(inputs, box, python_version, env)
    if cached.is_dir():
        with progress.step(f"{box.name}: compiled wheels (cached)"):
            runner.copy_in(cached, remote_dir, "copying the cached compiled wheels in")
        return sorted(p.name for p in cached.glob("*.whl"))
    names = " ".join(shlex.quote(f"{remote_inputs}/dist/{p.name}") for p in todo)
    with progress.step(f"{box.name}: compiling {', '.join(p.name for p in todo)}"):
        # Build isolation stays on: the build backends come from the build lock's wheels
        # (--use-pep517 also for a setup.py-only sdist, which pip 20 on Python 2.7 would
        # otherwise build with the interpreter's own setuptools: none).
        # -g0 and the prefix map keep the build directory out of the compiled .so files.
        compiler = env or {"CFLAGS": "-g0 -ffile-prefix-map=/tmp/="}
        assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in compiler.items())
        runner.run(
            f"{assignments} {python} -m pip wheel --use-pep517 "
            "--no-index --no-deps --disable-pip-version-check "
            f"--find-links {remote_inputs}/build -w {remote_dir} {names}",
            "compiling wheels from the lock's sdists",
        )
        built = runner.output(f"cd {remote_dir} && ls *.whl", "listing the compiled wheels").split()
        with filling(cached) as tmp:
            for name in built:
                runner.fetch(
                    f"{remote_dir}/{name}", tmp / name, "caching a compiled wheel on the host"
                )
    return sorted(built)
