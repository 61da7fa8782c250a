"""EL's SysV init in a Debian root whose PID 1 is systemd (centos6-rpm): sysv_root.py's
stand-ins of functions, service and chkconfig, in EL's /etc/rc.d layout, and EL's rc.

systemd plays the part of EL6's upstart: it brings up the network and sshd, and runs EL's rc
(a stand-in of /etc/rc.d/rc) once at boot, which starts the scripts linked S in rc3.d, and at
shutdown, which stops the running ones through their rc0.d K links. The daemons the scripts
start are nobody's unit: systemd's SysV generator is masked, so that no generated unit
tracks a daemon that the admin's service restarts behind its back (its ExecStop would run
when the daemon's first process ends, and race the script's own start). Debian's own init
scripts move to /etc/rc.d/init.d with the rest, and their rcN.d links go: systemd starts
Debian's services by their units, and EL's rc must not start them a second time.

Like the glibc boxes' roots (glibc_root.py), the root resolves host names from /etc/hosts
only: no DNS server is reachable from a box, and EL6's Salt line (3005, whose fqdns grain is
on by default) reverse-resolves every address of the box, which must hear "not found" (as a
real network's DNS answers), not "try again" (an ERROR on every salt-call).

    install(root)   # into a Debian root made by mmdebstrap (image.py)
"""

from __future__ import annotations

from pathlib import Path

from . import glibc_root, sysv_root

RC = r"""#!/bin/sh
# rc RUNLEVEL: EL's change of runlevel, as /etc/rc.d/rc does it: each K script of the level
# stops its service if that runs (its /var/lock/subsys lock), then each S script starts its.
level=${1:?usage: rc RUNLEVEL}
for k in /etc/rc.d/rc$level.d/K*; do
    [ -x "$k" ] && [ -f "/var/lock/subsys/${k##*/K??}" ] && "$k" stop </dev/null
done
for s in /etc/rc.d/rc$level.d/S*; do
    [ -x "$s" ] && "$s" start </dev/null
done
exit 0
"""

RC_UNIT = """[Unit]
Description=EL's rc: the SysV services enabled in runlevel 3
Wants=network-online.target
After=network-online.target remote-fs.target local-fs.target

[Service]
Type=oneshot
RemainAfterExit=yes
# The daemons stay where the scripts put them: a stop ends them through the K scripts only.
KillMode=process
ExecStart=/etc/rc.d/rc 3
ExecStop=/etc/rc.d/rc 0
TimeoutSec=5min

[Install]
WantedBy=multi-user.target
"""

FILES = {  # path in the root -> (mode, text)
    "etc/rc.d/rc": (0o755, RC),
    "etc/systemd/system/svh-rc.service": (0o644, RC_UNIT),
    # The scripts' subsystem locks live in /run/lock/subsys, as EL7's legacy.conf makes it
    # (EL6's rc.sysinit and svh-init make it themselves).
    "etc/tmpfiles.d/svh-subsys.conf": (0o644, "d /run/lock/subsys 0755 root root -\n"),
}
SYMLINKS = {
    "etc/systemd/system-generators/systemd-sysv-generator": "/dev/null",  # masked
    "etc/systemd/system/multi-user.target.wants/svh-rc.service": "../svh-rc.service",
}


def _el_layout(root: Path) -> None:
    """Debian's /etc/init.d and /etc/rcN.d become EL's /etc/rc.d/init.d and rc.d/rcN.d, the
    old paths links to them: Debian's scripts move, their S and K links go."""
    for path, mode in sysv_root.dirs().items():
        (root / path).mkdir(parents=True, exist_ok=True)
        (root / path).chmod(mode)
    for link, target in sysv_root.symlinks().items():
        old = root / link
        if old.is_dir() and not old.is_symlink():
            moves = link == "etc/init.d"
            for entry in sorted(old.iterdir()):
                if moves:
                    entry.rename(old.parent / target / entry.name)
                else:
                    entry.unlink()
            old.rmdir()
        old.unlink(missing_ok=True)
        old.symlink_to(target)


def _files_only_hosts(root: Path) -> None:
    """Host names from /etc/hosts alone (localhost in it, as the glibc roots have it)."""
    nsswitch = root / "etc/nsswitch.conf"
    lines = nsswitch.read_text().splitlines() if nsswitch.exists() else []
    kept = [line for line in lines if not line.startswith("hosts:")]
    nsswitch.write_text("\n".join([*kept, "hosts:          files"]) + "\n")
    hosts = root / "etc/hosts"
    if not hosts.exists():
        hosts.write_text(glibc_root.FILES["etc/hosts"][1])


def install(root: Path) -> None:
    """EL's SysV into a Debian root: the layout, the stand-ins (which replace Debian's own
    service, init-system-helpers'), EL's rc run by systemd, and the generator masked; host
    names from /etc/hosts only."""
    _el_layout(root)
    _files_only_hosts(root)
    for name, (mode, text) in {**sysv_root.files(), **FILES}.items():
        path = root / name
        path.unlink(missing_ok=True)  # write through no link of Debian's
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
    for name, target in SYMLINKS.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        path.symlink_to(target)
