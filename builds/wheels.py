"""Wheels compiled on the build box from the lock's sdists (salt itself, timelib, ...).

Compiling takes ~40 s, so the wheels are cached on the host, keyed by the sdists' hashes,
the build-backend lock, the box's release and its exact Python: a warm build copies them in.
A pure wheel (salt's: py3-none-any) is the same whatever box compiled it, so it is also kept
on its own, keyed by its sdist, the build-backend lock and the Python minor (Salt's setup.py
takes its requirements by the minor): the other boxes of that minor take it instead of
compiling it again.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from harness import progress

from .inputs import SDIST_SUFFIXES, cache_root, filling, sdists, sha256_file
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


def pure_key(sdist: Path, inputs: Path, python_version: str) -> str:
    minor = ".".join(python_version.split(".")[:2])
    build_lock = (inputs / "build-lock.txt").read_text()
    return digest("pure-wheel-v1", f"{sdist.name}={sha256_file(sdist)}", build_lock, minor)[:20]


def _wheel_of(sdist: Path, wheels: list[str]) -> str | None:
    """The wheel compiled from `sdist` (name-version.tar.gz -> name_version-...whl)."""
    suffix = next(s for s in SDIST_SUFFIXES if sdist.name.endswith(s))
    stem = sdist.name.removesuffix(suffix)
    name, _, version = stem.rpartition("-")
    prefix = f"{name.replace('-', '_').replace('.', '_').lower()}-{version}-"
    return next((w for w in wheels if w.lower().startswith(prefix)), None)


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
    pure = {p: cache_root() / "wheels-pure" / pure_key(p, inputs, python_version) for p in todo}
    for sdist in [p for p in todo if pure[p].is_dir()]:
        runner.copy_in(pure[sdist], remote_dir, f"copying the pure wheel of {sdist.name} in")
        todo.remove(sdist)
    if todo:
        _compile(runner, box, python, todo, remote_inputs, remote_dir, env)
    built = runner.output(f"cd {remote_dir} && ls *.whl", "listing the compiled wheels").split()
    _keep(runner, remote_dir, built, cached)
    for sdist in todo:
        wheel = _wheel_of(sdist, built)
        if wheel is not None and wheel.endswith("-none-any.whl"):
            _keep(runner, remote_dir, [wheel], pure[sdist])
    return sorted(built)


def _compile(
    runner: BoxRunner,
    box,
    python: str,
    todo: list[Path],
    remote_inputs: str,
    remote_dir: str,
    env: dict[str, str] | None,
) -> None:
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


def _keep(runner: BoxRunner, remote_dir: str, wheels: list[str], cached: Path) -> None:
    with filling(cached) as tmp:
        for name in wheels:
            runner.fetch(f"{remote_dir}/{name}", tmp / name, "caching a compiled wheel on the host")
