"""What the packages ship is what runs: Salt writes nothing into the payload's prefix (ours:
/opt/salt) when it runs, the packages still verify clean afterwards, and `salt
--versions-report` names the versions the build recorded in its manifest (or, for packages
built elsewhere, the versions their payload carries)."""

from __future__ import annotations

from checks import expect_none, expect_unchanged, fail, isolated, prefix, sh, tool_path

from builds.locks import canonical
from harness.transport import Machine
from verification.packages import PackageSet

# What an admin runs first on a new box: every entry point imports a different part of Salt.
FIRST_RUNS = [
    ("salt-call", "--local test.ping"),
    ("salt-call", "--local grains.items"),
    ("salt-call", "--local pkg.list_pkgs"),
    ("salt-call", "--local state.apply test=True"),
    ("salt-run", "--version"),
    ("salt-key", "-L"),
    ("salt", "--versions-report"),
]
# Libraries a Salt minion cannot do without: the report must give each one a version.
ESSENTIAL = ["jinja2", "msgpack", "pycryptodomex", "pyyaml", "pyzmq", "tornado", "cryptography"]
# The report's names, where they differ from the distribution names of the manifest.
# (Salt 3000 calls msgpack by its old distribution name.)
REPORT_NAMES = {
    "dateutil": "python-dateutil",
    "pycryptodome": "pycryptodomex",
    "msgpack-python": "msgpack",
}


def strays(machine: Machine, packages: PackageSet) -> tuple[str, list[str]]:
    """Files under the prefix that no package of the set holds."""
    command = f"find {prefix(machine)} ! -type d | sort"
    shipped = set(packages.payload_files())
    return command, [f for f in sh(machine, command).stdout.splitlines() if f not in shipped]


def expect_nothing_written(machine: Machine, packages: PackageSet, after: str):
    command, found = strays(machine, packages)
    root = prefix(machine)
    expect_none(machine, f"file under {root} that no package holds, after {after}", command, found)
    expect_unchanged(machine, "the packages under test", packages.names)


def test_salt_writes_nothing_into_opt_salt_when_it_runs(fresh, packages):
    runs = [f"{tool_path(fresh, tool)} {arguments}" for tool, arguments in FIRST_RUNS]
    for run in runs:
        sh(fresh, f"{run} >/dev/null 2>&1 || true")
    expect_nothing_written(fresh, packages, "; ".join(runs))


def test_a_serving_minion_and_master_write_nothing_into_opt_salt(minion, packages):
    expect_nothing_written(minion.machine, packages, "the minion served its master")


def versions_report(machine: Machine) -> tuple[str, dict[str, str]]:
    run = f"{tool_path(machine, 'salt')} --versions-report"
    report = {}
    for line in sh(machine, run).stdout.splitlines():
        name, colon, version = line.strip().partition(": ")
        if colon and version and version != "Not Installed":
            report[canonical(REPORT_NAMES.get(name.lower(), name))] = version.split()[0]
    return run, report


def python_version(machine: Machine, packages: PackageSet) -> str:
    """The manifest's X.Y.Z; for packages built elsewhere, the payload interpreter's own."""
    recorded = packages.manifest["python_version"]
    if recorded.count(".") >= 2:
        return recorded
    probe = "import platform; print(platform.python_version())"
    return sh(machine, f"{isolated(machine)} -c '{probe}'").stdout.strip()


def vendored_tornado(machine: Machine) -> str | None:
    """The version of the tornado Salt carries inside itself (salt.ext.tornado), if any."""
    probe = "import salt.ext.tornado as t; print(t.version)"
    result = sh(machine, f"{isolated(machine)} -c '{probe}'", expect_ok=False)
    return result.stdout.strip() if result.exit_status == 0 else None


def test_versions_report_names_the_versions_of_the_manifest(installed, packages):
    command, report = versions_report(installed)
    expected = {
        "salt": packages.salt_version,
        "python": python_version(installed, packages),
        **{name: packages.bundled.get(name) for name in ESSENTIAL},
        **{name: v for name, v in packages.bundled.items() if name in report},
    }
    if expected["tornado"] is None:  # Salt 3005 and older vendor it: salt.ext.tornado
        expected["tornado"] = vendored_tornado(installed)
    wrong = [
        f"{name}: {report.get(name, 'missing')} (manifest: {version or 'not bundled'})"
        for name, version in sorted(expected.items())
        if report.get(name) != version
    ]
    if wrong:
        fail(installed, "the versions the manifest records", "\n    ".join(wrong), command)
