"""salt-pip extras (salt#63675, salt#62949): an admin's extra Python package goes into
the payload's extras directory (ours: /opt/salt/extras-X.Y), Salt imports it (salt-call,
and a minion serving its master through a custom execution module), and the system's
Python never sees it. That it
survives an upgrade is checked by the lifecycle suite. Salt extensions installed with
salt-pip are listed by the versions report and load."""

from __future__ import annotations

import json

from checks import expect_silent, fail, layout, lines, prefix, salt, sh, tool_path
from extras import (
    ANSWER,
    EXTENSIONS,
    EXTRA,
    expect_in_extras,
    extension_answer,
    salt_pip_install,
)

# A custom execution module that needs the extra: what admins install extras for.
EXEC_MODULE = f"import {EXTRA}\n\n\ndef answer():\n    return {EXTRA}.ANSWER\n"
MODULE_PATH = "/srv/salt/_modules/svh_extras.py"


def test_salt_pip_installs_into_the_extras_that_salt_call_imports(fresh, extra_wheel):
    salt_pip_install(fresh, extra_wheel)
    expect_in_extras(fresh)
    sh(fresh, "mkdir -p /srv/salt/_modules")
    fresh.write_text(MODULE_PATH, EXEC_MODULE)
    command = (
        "salt-call --local saltutil.sync_modules >/dev/null && "
        "salt-call --local --out=json svh_extras.answer"
    )
    got = json.loads(sh(fresh, command).stdout).get("local")
    if got != ANSWER:
        fail(fresh, f"salt-call's custom module to answer {ANSWER!r}", repr(got), command)
    if sh(fresh, "command -v python3", expect_ok=False).exit_status == 0:
        command = f"python3 -c 'import {EXTRA}' 2>&1"
        result = sh(fresh, command, expect_ok=False)
        if result.exit_status == 0:
            fail(fresh, f"the system's python3 unable to import {EXTRA}", "it imports", command)


def test_a_minion_serves_its_master_with_a_salt_pip_extra(minion, extra_wheel):
    machine, master = minion.machine, minion.master.machine
    salt_pip_install(machine, extra_wheel)
    try:
        sh(master, "mkdir -p /srv/salt/_modules")
        master.write_text(MODULE_PATH, EXEC_MODULE)
        synced = salt(minion, "saltutil.sync_modules")
        if "modules.svh_extras" not in (synced or []):
            command = f"salt {minion.id} saltutil.sync_modules"
            fail(master, "the master to hand the minion modules.svh_extras", repr(synced), command)
        got = salt(minion, "svh_extras.answer")
        if got != ANSWER:
            command = f"salt {minion.id} svh_extras.answer"
            fail(master, f"the minion's custom module to answer {ANSWER!r}", repr(got), command)
    finally:
        sh(master, f"rm -f {MODULE_PATH}")
        salt(minion, "saltutil.sync_modules")
        sh(machine, f"{tool_path(machine, 'salt-pip')} uninstall -y {EXTRA}")
    command = f"find {prefix(machine)}/extras-* ! -type d ! -name README"
    expect_silent(machine, "file left in the extras by salt-pip uninstall", command)


def report_section(report: str, title: str) -> dict[str, str]:
    """The `name: version` lines under `title:` of `salt --versions-report`."""
    section: dict[str, str] = {}
    inside = False
    for line in report.splitlines():
        if not line.startswith(" "):
            inside = line.strip() == f"{title}:"
        elif inside and ": " in line:
            name, _, version = line.strip().partition(": ")
            section[name] = version.strip()
    return section


def test_salt_extensions_installed_with_salt_pip_are_reported_and_load(fresh, extension_wheels):
    """Two extensions of the saltext namespace, installed one after the other (salt#65433:
    the second arrived as metadata only), then the first upgraded: both listed at their
    versions, both modules load for salt-call, and the upgrade left one copy."""
    first, second = EXTENSIONS
    for name, version in ((first, "1.0"), (second, "1.0"), (first, "2.0")):
        salt_pip_install(fresh, extension_wheels[name, version])
    expected = {first: "2.0", second: "1.0"}
    command = "salt --versions-report"
    listed = report_section(sh(fresh, command).stdout, "Salt Extensions")
    if {name: listed.get(name) for name in EXTENSIONS} != expected:
        fail(fresh, f"Salt Extensions to list {expected}", repr(listed), command)
    for distribution, version in expected.items():
        expect_extension_answers(fresh, EXTENSIONS[distribution], version)
    extras = layout(fresh).extras_dir
    command = f"ls -d {extras}/*.dist-info"
    infos = [line.rsplit("/", 1)[1] for line in lines(fresh, command) if "saltext" in line]
    if sorted(infos) != ["saltext_svh_one-2.0.dist-info", "saltext_svh_two-1.0.dist-info"]:
        fail(fresh, "one .dist-info per extension, at its version", str(infos), command)


def expect_extension_answers(machine, module: str, version: str) -> None:
    command = f"salt-call --local --out=json {module}.answer"
    result = sh(machine, command, expect_ok=False)
    try:
        got = json.loads(result.stdout).get("local")
    except (ValueError, AttributeError):
        got = (result.stdout + result.stderr).strip()[-400:]
    if got != extension_answer(module, version):
        expected = f"{module}.answer to return {extension_answer(module, version)!r}"
        fail(machine, expected, repr(got), command)
