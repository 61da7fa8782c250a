"""What Salt's own package tests check of an installed package set (tests/pytests/pkg in
Salt's sources), each held to its whole class: every program of ours answers --version and
--help, every salt subpackage imports, PyYAML's C loader is there and Salt's YAML loader
uses it, and nothing of ours writes to stderr on its way out."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import PurePosixPath

import pytest
from checks import expect_none, fail, import_each, isolated, sh, tool_path

# Run on the box (not the host) by the payload's Python, 3 or 2.7 (EL5's): each program with
# --version and --help, four at a time: {program: {flag: {rc, out, err}}}.
RUN_PROGRAMS = """\
import json, sys, threading
from subprocess import PIPE, Popen as start

found, lock, slots = {}, threading.Lock(), threading.Semaphore(4)

def run(program, flag):
    with slots:
        done = start([program, flag], stdout=PIPE, stderr=PIPE, universal_newlines=True)
        timer = threading.Timer(120, done.kill)  # a program that hangs answers nothing
        timer.start()
        out, err = done.communicate()
        timer.cancel()
    with lock:
        found.setdefault(program, {})[flag] = {
            "rc": done.returncode, "out": out[:2000], "err": err[:2000]}

jobs = [threading.Thread(target=run, args=(p, flag))
        for p in sys.argv[1:] for flag in ("--version", "--help")]
for job in jobs:
    job.start()
for job in jobs:
    job.join()
print(json.dumps(found))
"""
# Every package under salt/, imported depth first: {imported: [...], failed: {name: error}}.
SWEEP_SUBPACKAGES = """\
import importlib, json, pkgutil, salt

imported, failed = [], {}

def sweep(package):
    for _, name, is_package in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        if not is_package:
            continue
        try:
            sub = importlib.import_module(name)
        except (Exception, SystemExit) as e:
            failed[name] = "%s: %s" % (type(e).__name__, e)
            continue
        imported.append(name)
        sweep(sub)

sweep(salt)
print(json.dumps({"imported": imported, "failed": failed}))
"""
# Subpackages that cannot import on Linux, with the reason; any other failure is a defect.
# None measured so far: every one of Salt 3008's imports on debian11, debian12 and EL7's.
NOT_FOR_LINUX: dict[str, str] = {}
# What Salt's YAML loader and dumper are built on, and whether PyYAML has its C extension.
YAML_LOADER = """\
import json, yaml
import salt.utils.yamldumper as dumper, salt.utils.yamlloader as loader

def bases(cls):
    return ["%s.%s" % (c.__module__, c.__name__) for c in cls.__mro__]

print(json.dumps({
    "with_libyaml": yaml.__with_libyaml__,
    "loader": bases(loader.SaltYamlSafeLoader),
    "dumper": bases(dumper.SafeOrderedDumper),
}))
"""


def our_programs(packages) -> list[str]:
    """Every program the packages put on the admin's PATH; for packages that put none there
    (a bare venv), Salt's programs where they have them."""
    on_path = sorted(f for f in packages.payload_files() if f.startswith("/usr/bin/"))
    return on_path or sorted(set(packages.layout.commands.values()))


def expected_version(program: str, packages) -> str:
    """What `program --version` starts with: Salt's programs name themselves and Salt's
    version; salt-pip is pip, at the version the payload bundles."""
    name = PurePosixPath(program).name
    if name == "salt-pip":
        # A post release re-ships the same code: pip 26.0.1.post1 calls itself 26.0.1.
        pip = re.sub(r"\.post\d+$", "", packages.bundled.get("pip", "(not bundled)"))
        return f"pip {pip} "
    return f"{name} {packages.salt_version} "


@pytest.fixture(scope="session")
def program_answers(installed, packages) -> tuple[dict, str]:
    programs = " ".join(our_programs(packages))
    command = f"{isolated(installed)} -B -c {shlex.quote(RUN_PROGRAMS)} {programs}"
    answers = json.loads(sh(installed, command, timeout=600).stdout)
    # What an engineer runs to see it: the same calls, one after the other.
    shown = (
        f"for p in {programs}; do for flag in --version --help; do "
        '$p $flag; echo "$p $flag: exit $?"; done; done'
    )
    return answers, shown


def wrong_answers(program: str, runs: dict, packages) -> list[str]:
    """How `program` fails Salt's test_help and test_version: exit status and first line."""
    wrong = []
    version, usage = runs["--version"], runs["--help"]
    expected = expected_version(program, packages)
    first_line = (version["out"].strip().splitlines() or [""])[0]
    if version["rc"] != 0 or not f"{first_line} ".startswith(expected):
        shown = first_line or version["err"].strip()[-300:]
        wrong.append(f"{program} --version: exit {version['rc']}, {shown!r} (not {expected!r})")
    if usage["rc"] != 0 or "usage:" not in usage["out"].lower():
        shown = usage["err"].strip()[-300:]
        wrong.append(f"{program} --help: exit {usage['rc']}, no usage; stderr {shown!r}")
    return wrong


def test_every_program_answers_version_and_help(installed, packages, program_answers):
    answers, command = program_answers
    if not answers:
        fail(installed, "programs of ours in /usr/bin", "none in the packages", command)
    wrong = [w for p, runs in sorted(answers.items()) for w in wrong_answers(p, runs, packages)]
    expect_none(installed, "program of ours that does not answer as it should", command, wrong)


def test_every_salt_subpackage_imports(installed):
    command = f"{isolated(installed)} -B -c {shlex.quote(SWEEP_SUBPACKAGES)}"
    done = sh(installed, command, timeout=600)
    swept = json.loads(done.stdout)
    if len(swept["imported"]) < 50:  # salt/ has over a hundred subpackages
        fail(installed, "over 50 salt subpackages", str(swept["imported"]), command)
    failed = {n: e for n, e in swept["failed"].items() if n not in NOT_FOR_LINUX}
    each = import_each(installed, failed)
    found = [f"{n}: {e}" for n, e in failed.items()]
    expect_none(installed, "salt subpackage that fails to import", each, found)


def test_salt_loads_and_dumps_yaml_with_libyaml(installed):
    """salt#69907: a PyYAML built without libyaml still works, several times slower, and
    Salt reads every state and pillar file with it."""
    command = f"{isolated(installed)} -B -c {shlex.quote(YAML_LOADER)}"
    found = json.loads(sh(installed, command).stdout)
    if not found["with_libyaml"]:
        fail(installed, "PyYAML with its C extension (yaml.__with_libyaml__)", "False", command)
    for role in ("loader", "dumper"):
        if not any(base.startswith("yaml._yaml.C") for base in found[role]):
            fail(
                installed,
                f"Salt's YAML {role} on libyaml's C{role.title()}",
                str(found[role]),
                command,
            )


PASSWORD, CRYPT_SALT = "salt-venv-harness", "harnesssalt"
# crypt(3) of PASSWORD with "$6$harnesssalt" (glibc; passlib's sha512_crypt gives the same).
SHA512_CRYPT = (
    "$6$harnesssalt$.3Z/AoNxr1koB33PngTHl9b2jH27iD.Lp4T2xVsEyaAZVgotphPUqhKBr4KTVBNs9c5WCBS2"
    "rqhd65CQuBB/11"
)


@pytest.mark.smoke
def test_salt_hashes_a_password_for_the_shadow_file(installed):
    """What user.present's password and shadow.gen_password need: Salt hashes with the
    stdlib's crypt, and with passlib where the interpreter has none (Python 3.13 dropped it;
    Salt's package tests create their test account so). A sha512-crypt hash of a known
    password and salt, as glibc's crypt(3) makes it (crypt names the rounds it was given,
    passlib leaves out the default's)."""
    call = (
        f"{tool_path(installed, 'salt-call')} --local --out=json shadow.gen_password "
        f"{PASSWORD} {shlex.quote('crypt_salt=rounds=5000$' + CRYPT_SALT)} algorithm=sha512"
    )
    done = sh(installed, call, expect_ok=False)
    found = done.stdout.strip() or done.stderr.strip()[-300:]
    try:
        hashed = str(json.loads(done.stdout)["local"]).replace("$rounds=5000$", "$", 1)
    except (ValueError, KeyError, TypeError):
        hashed = None
    if hashed != SHA512_CRYPT:
        fail(installed, f"the sha512-crypt hash {SHA512_CRYPT}", found, call)


# What Salt itself prints on stderr on purpose, line by line; any other line is noise.
UPSTREAM_NOTICES = (
    # Salt 3000's daemons on Python 2.7 (EL5's /opt/salt): salt/scripts.py, on every start.
    re.compile(
        r"\S+/salt/scripts\.py:\d+: DeprecationWarning: Python 2\.7 will reach the end of its "
        r"life on January 1st, 2020\. .* Salt will drop support for Python 2\.7 in the Sodium "
        r"release or later\."
    ),
)


def noise(stderr: str) -> str:
    """stderr without the lines that are one of Salt's own notices."""
    lines = stderr.strip().splitlines()
    return "\n".join(
        line for line in lines if not any(n.fullmatch(line.strip()) for n in UPSTREAM_NOTICES)
    ).strip()


def test_nothing_of_ours_writes_to_stderr_on_its_way_out(installed, program_answers):
    """Teardown noise ("Exception ignored in ...", ResourceWarning, a zmq context left
    open) on every program's --version and on a local salt-call, which sets up Salt's
    loader, its zmq-based event bus and its logging."""
    answers, command = program_answers
    noisy = [
        f"{program} {flag}: {noise(run['err'])[-300:]!r}"
        for program, runs in sorted(answers.items())
        for flag, run in runs.items()
        if noise(run["err"])
    ]
    call = f"{tool_path(installed, 'salt-call')} --local --out=json test.ping"
    stderr = noise(sh(installed, call).stderr)
    if stderr:
        noisy.append(f"{call}: {stderr[-300:]!r}")
    expect_none(
        installed, "stderr output when a program of ours exits", f"{command}; {call}", noisy
    )
