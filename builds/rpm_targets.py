"""What salt.spec becomes on each EL target, checked without an EL box.

For every rpm box of the catalog (centos5/6/7) the spec is evaluated by rpmspec with
that release's macros (rhel, dist, and the directories EL's rpm defines), and the result
is held against the box: SysV init scripts and chkconfig where the box says init = sysv,
systemd units and systemctl where it says systemd, and rpm's path filters (no AutoReqProv).

    python -m builds.rpm_targets      # one line per target, exit 1 on a mismatch
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from harness import platform
from harness.platform import InitSystem
from harness.runner import capture

from .errors import BuildError
from .locks import box_line
from .rpm import SPEC, target_macros

DAEMONS = ["minion", "master", "syndic", "api"]
SCRIPTLETS = ("%pre", "%post", "%preun", "%postun", "%posttrans")
SECTIONS = (
    "%package",
    "%description",
    "%prep",
    "%build",
    "%install",
    "%check",
    "%clean",
    "%pre",
    "%post",
    "%preun",
    "%postun",
    "%posttrans",
    "%files",
    "%changelog",
)


@dataclass
class Package:
    name: str
    preamble: list[str] = field(default_factory=list)
    scripts: dict[str, str] = field(default_factory=dict)  # "%post" -> body
    files: list[str] = field(default_factory=list)

    def tag(self, name: str) -> list[str]:
        """Values of a preamble tag (Requires, Source10, ...), comma lists split."""
        values = []
        for line in self.preamble:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                values += [v.strip() for v in value.split(",") if v.strip()]
        return values


@dataclass
class EvaluatedSpec:
    target: str
    text: str
    packages: dict[str, Package]
    nvrs: list[str]

    def script(self, package: str, which: str) -> str:
        return self.packages[package].scripts.get(which, "")


def parse_spec(text: str, main: str = "salt") -> dict[str, Package]:
    """Packages of an evaluated spec (rpmspec -P output): preamble, scriptlets, %files."""
    packages = {main: Package(main)}
    section, current = "preamble", packages[main]
    for line in text.splitlines():
        word = line.split(" ", 1)[0].strip()
        if word in SECTIONS:
            section = word
            args = line.split()[1:]
            name = main
            if "-n" in args:
                name = args[args.index("-n") + 1]
            elif args and not args[0].startswith("-"):
                name = f"{main}-{args[0]}"
            current = packages.setdefault(name, Package(name))
            if section in SCRIPTLETS:
                current.scripts[section] = ""
            continue
        if section in ("preamble", "%package") and ":" in line and not line.startswith(("#", "%")):
            current.preamble.append(line)
        elif section in SCRIPTLETS:
            current.scripts[section] += line + "\n"
        elif section == "%files" and line.strip() and not line.startswith(("%defattr", "#")):
            current.files.append(line.strip())
    return packages


def _rpmspec(args: list[str], macros: dict[str, str]) -> str:
    argv = ["rpmspec"]
    for name, value in macros.items():
        argv += ["--define", f"{name} {value}"]
    proc = capture(argv + args + [str(SPEC)])
    if proc.returncode != 0:
        raise BuildError(
            f"rpmspec {' '.join(args)} failed for {macros.get('dist', 'no target')}: "
            f"{(proc.stderr.strip().splitlines() or ['no output'])[-1]}"
        )
    return proc.stdout


def evaluate(release: str, salt_version: str = "3008.4") -> EvaluatedSpec:
    # portable: as rpm.rpmbuild_argv passes it for a payload built for the release's glibc,
    # the only kind an EL release's RPMs carry
    macros = {**target_macros(release), "salt_version": salt_version, "portable": "1"}
    text = _rpmspec(["-P"], macros)
    nvrs = _rpmspec(["-q", "--qf", "%{nvr}\\n"], macros).split()
    return EvaluatedSpec(f"el{release}", text, parse_spec(text), nvrs)


def evaluate_box(box) -> EvaluatedSpec:
    """The spec as the box's own RPMs are built: its release, Salt line and payload."""
    assert box.rpm_target is not None
    return evaluate(box.rpm_target, box_line(box.name))


def _check_daemon(spec: EvaluatedSpec, daemon: str, init: InitSystem) -> list[str]:
    """A daemon's package: its init files and the scriptlets that enable, stop, restart it,
    as the box's init system expects them."""
    problems: list[str] = []
    pkg = f"salt-{daemon}"
    sections = {s: spec.script(pkg, s) for s in SCRIPTLETS if s != "%pre"}
    sections["files"] = "\n".join(spec.packages[pkg].files)
    wanted, unwanted = init.package_expectations(pkg)
    for needle, where in wanted:
        if needle not in sections[where]:
            problems.append(f"{pkg}: no '{needle}' ({init.kind})")
    everything = "".join(sections.values())
    problems += [
        f"{pkg}: '{word}' on a {init.kind} target" for word in unwanted if word in everything
    ]
    return problems


def check(spec: EvaluatedSpec, init: InitSystem) -> list[str]:
    """How the evaluated spec differs from what the box needs; empty when it fits."""
    problems = []
    main = spec.packages["salt"]
    release = spec.target[2:]
    if not all(nvr.endswith(f".el{release}") for nvr in spec.nvrs):
        problems.append(f"release without the .el{release} dist tag: {spec.nvrs}")
    for sub in [p for p in spec.packages if p != "salt"]:
        if f"salt = {spec.nvrs[0][len('salt-') :]}" not in spec.packages[sub].tag("Requires"):
            problems.append(f"{sub} does not require salt = its own version-release")
    for daemon in DAEMONS:
        problems += _check_daemon(spec, daemon, init)
    # rpm 4.4 (EL5) builds no noarch subpackage of an arch package.
    arches = {
        p.tag("BuildArch")[0] if p.tag("BuildArch") else "x86_64"
        for n, p in spec.packages.items()
        if n != "salt"
    }
    if arches != ({"x86_64"} if release == "5" else {"noarch"}):
        problems.append(f"subpackage arches {sorted(arches)} on {spec.target}")
    # rpmbuild filters by path (the filters' effect is checked on a built RPM).
    if main.tag("AutoReqProv"):
        problems.append("AutoReqProv set where rpm's path filters work")
    return problems


def el_boxes():
    from harness import catalog

    boxes = catalog.load_catalog().values()
    return [b for b in boxes if b.rpm_target and b.packages_of is None]


def main() -> int:
    failed = False
    for box in el_boxes():
        spec = evaluate_box(box)
        problems = check(spec, platform.of(box).services)
        failed |= bool(problems)
        verdict = "ok" if not problems else "MISMATCH: " + "; ".join(problems)
        bundled = box.python.bundled_version or "-"
        print(
            f"{box.name}: {spec.target} init={box.init} bundled python={bundled} "
            f"{spec.nvrs[0]} +{len(spec.nvrs) - 1} subpackages: {verdict}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
