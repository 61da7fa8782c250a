"""Installation: the packages go in with the box's own package manager, next to the
distribution's conflicting libraries, and own nothing outside their allow-list."""

from __future__ import annotations

import re

import pytest
from checks import (
    expect_none,
    expect_silent,
    expect_unchanged,
    fail,
    lines,
    pkgdb,
    sh,
    supported,
)

# Where the packages may put files, besides their prefix (ours: /opt/salt) and the
# logrotate configs they ship.
ALLOWED = [
    r"/usr/bin/(salt[a-z-]*|spm)",
    r"/(usr/)?lib/systemd/system/salt-[a-z]+\.service",
    r"/etc/(rc\.d/)?init\.d/salt-[a-z]+",  # EL's scripts are in rc.d/init.d (init.d links there)
    r"/etc/salt(/.*)?",
    r"/var/log/salt",
    r"/var/cache/salt(/.*)?",
    r"/srv/salt",
    r"/usr/share/man/.*salt.*",
    r"/usr/share/doc/salt[a-z-]*(/.*)?",
    r"/usr/share/lintian/overrides/salt[a-z-]*",
]
# Directories that merely contain ours (dpkg lists every parent).
PARENTS = {
    "/",
    "/.",
    "/opt",
    "/usr",
    "/usr/bin",
    "/usr/lib",
    "/lib",
    "/lib/systemd",
    "/lib/systemd/system",
    "/usr/lib/systemd",
    "/usr/lib/systemd/system",
    "/etc",
    "/etc/init.d",
    "/etc/logrotate.d",
    "/var",
    "/var/log",
    "/var/cache",
    "/srv",
    "/usr/share",
    "/usr/share/man",
    "/usr/share/doc",
    "/usr/share/lintian",
    "/usr/share/lintian/overrides",
}


def owned_files(machine, packages) -> tuple[str, list[str]]:
    command = supported(pkgdb(machine).files, packages.names)
    return command, lines(machine, command)


@pytest.mark.smoke
def test_every_package_is_installed_at_the_built_version(installed, packages):
    command = supported(pkgdb(installed).installed, packages.names)
    found = dict(line.split(None, 1) for line in lines(installed, command))
    for p in packages.packages:
        if found.get(p.name) != p.version:
            fail(installed, f"{p.name} {p.version} installed", str(found.get(p.name)), command)


@pytest.mark.smoke
def test_every_packaged_file_is_on_the_box(installed, packages):
    """What the package files hold is what the box got, whatever installed it (on a box
    without a package database too)."""
    command = (
        'while IFS= read -r f; do [ -e "$f" ] || [ -L "$f" ] || echo "$f"; done '
        "< /var/tmp/salt-venv-harness/expected-files"
    )
    installed.write_text(
        "/var/tmp/salt-venv-harness/expected-files", "\n".join(packages.payload_files()) + "\n"
    )
    expect_silent(installed, "packaged file missing on the box", command)


def test_distro_conflict_packages_stay_installed_next_to_ours(installed):
    names = [c.package for c in installed.spec.conflicts]
    if not names:
        pytest.skip(f"{installed.spec.name} has no distribution Python libraries")
    command = supported(pkgdb(installed).installed, names)
    present = {line.split()[0] for line in lines(installed, command)}
    missing = sorted(set(names) - present)
    expect_none(installed, "distro conflict package removed by our install", command, missing)


def allowed_paths(packages) -> re.Pattern:
    """ALLOWED, the packages' prefix and what lies under it, and their logrotate configs."""
    layout = packages.layout
    own = [f"{re.escape(layout.prefix)}(/.*)?", *(re.escape(f) for f in layout.logrotate)]
    return re.compile("|".join([*own, *ALLOWED]))


def parents(path: str) -> set[str]:
    """/opt/saltstack/salt -> {/opt, /opt/saltstack}: directories that merely contain it."""
    parts = path.strip("/").split("/")
    return {"/" + "/".join(parts[:i]) for i in range(1, len(parts))}


def test_every_file_we_own_lives_under_opt_salt_or_the_allow_list(installed, packages):
    command, files = owned_files(installed, packages)
    allowed, containing = allowed_paths(packages), PARENTS | parents(packages.layout.prefix)
    outside = [f for f in files if f not in containing and not allowed.fullmatch(f)]
    expect_none(
        installed,
        f"file of the packages outside {packages.layout.prefix} and the allow-list",
        command,
        outside,
    )


def test_nothing_lands_in_the_distro_python_directories(installed, packages):
    files = packages.payload_files()
    python_dirs = re.compile(
        r"/usr(/local)?/lib(64)?/python[23][^/]*/.+|/usr/lib/python3/dist-packages/.+"
    )
    expect_none(
        installed,
        "file of ours in the distribution's Python directories",
        f"ls {packages.directory} (the package files)",
        [f for f in files if python_dirs.fullmatch(f)],
    )


def test_distro_conflict_packages_verify_clean(installed):
    names = [c.package for c in installed.spec.conflicts]
    if not names:
        pytest.skip(f"{installed.spec.name} has no distribution Python libraries")
    expect_unchanged(installed, "a distro conflict package", names)


def test_our_dependencies_are_all_satisfied_by_the_distribution(installed, packages):
    command = supported(pkgdb(installed).unmet_requirements, packages.names)
    unmet = lines(installed, command)
    expect_none(installed, "dependency the distribution does not provide", command, unmet)


def first_link_outside(path: str, prefix: str) -> str:
    """The command that prints the first path outside PREFIX that PATH's links name, one
    link at a time (readlink -f would name the end of the chain: python3.11, not python3)."""
    return (
        f'p={path}; while [ -L "$p" ]; do t=$(readlink "$p"); '
        'case "$t" in /*) p=$t ;; *) p=$(dirname "$p")/$t ;; esac; '
        f'case "$p" in {prefix}/*) ;; *) echo "$p"; break ;; esac; done'
    )


def test_a_system_interpreter_is_named_at_its_minor_and_required(installed, packages):
    """A venv on the system's Python runs whatever interpreter its link names: the release's
    `python3` moves to the next minor with a distribution upgrade, under a venv whose
    site-packages are the old minor's. So the link names python3.X, and the packages
    require the package that ships it (or its -minimal part's full package)."""
    declared = packages.layout.system_interpreter
    if packages.layout.bundled_interpreter or declared is None:
        pytest.skip(f"the packages in {packages.directory} bring their own interpreter")
    minor = f"python{packages.layout.python_version}"
    # The link as installed, whatever the package or its manifest declare.
    command = first_link_outside(packages.layout.interpreter, packages.layout.prefix)
    links = {declared, sh(installed, command).stdout.strip() or declared}
    wrong = [
        f"{link}: not named at {minor}"
        for link in sorted(links)
        if not re.fullmatch(r".*/python\d+\.\d+", link)
    ]
    real = sh(installed, f"readlink -f {declared}").stdout.strip()
    owner = sh(installed, supported(pkgdb(installed).owner, real)).stdout.strip()
    wanted = sorted({owner, owner.removesuffix("-minimal")} - {""}) or [real]
    required = {r.name for found in packages.relations().values() for r in found["requires"]}
    if not set(wanted) & required:
        shown = ", ".join(sorted(required)) or "nothing"
        wrong.append(
            f"no requirement of {' or '.join(wanted)}: the packages require {shown} "
            f"({packages.relations_command()} on the host, in {packages.directory})"
        )
    expect_none(installed, "unpinned system interpreter under the venv", command, wrong)


def test_packages_provide_and_require_only_what_is_allowed(installed, packages):
    """Salt's test_pkg_meta: what the package files declare, read on the host. A Provides
    of something not ours lets other software resolve against /opt/salt's private copies; a
    Requires of the distribution's Python libraries ties us to what we must not touch."""
    wrong = packages.foreign_relations()
    command = f"{packages.relations_command()}  (on the host, in {packages.directory})"
    expect_none(
        installed, "provide or requirement outside our own and the allow-list", command, wrong
    )


def test_a_release_candidate_sorts_below_its_final(installed, packages):
    """Salt's test_version.py: the box's own package manager sorts our name for a release
    candidate of this version (3008.4rc1) below the final's, or the final never replaces
    a candidate. The build records the pair it names (3008.4~rc1-1, or 3008.4-0.rc1 where
    rpm has no tilde)."""
    order = packages.manifest.get("prerelease_order")
    if not order:
        pytest.skip(f"{packages.directory}'s manifest names no release candidate (built elsewhere)")
    candidate, final = order
    command = supported(pkgdb(installed).sorts_before, candidate, final)
    if sh(installed, command, expect_ok=False).exit_status != 0:
        fail(installed, f"{candidate} below {final}", f"{candidate} sorts above", command)


def test_the_logrotate_config_is_a_regular_file_of_roots(installed, packages):
    """salt#65231: the logrotate config shipped as a directory, which logrotate ignores."""
    configs = packages.layout.logrotate
    if not configs:
        pytest.skip(f"the packages in {packages.directory} ship no /etc/logrotate.d/ config")
    for config in configs:
        command = f"stat -c '%F %U:%G %a' {config}"
        found = sh(installed, command).stdout.strip()
        if found not in ("regular file root:root 644", "regular file root:root 640"):
            fail(installed, "regular file root:root 644", found, command)


def test_minion_and_master_configs_are_conffiles(installed, packages):
    expected = {"/etc/salt/minion", "/etc/salt/master"} & set(packages.layout.configs)
    if not expected:
        pytest.skip(f"the packages in {packages.directory} ship no /etc/salt/minion or master")
    command = supported(pkgdb(installed).conffiles, packages.names)
    conffiles = set(lines(installed, command))
    if not expected <= conffiles:
        fail(installed, f"conffiles including {sorted(expected)}", str(sorted(conffiles)), command)
