"""The EL7 lane's minion on glibc 2.17: seconds from starting salt-minion on centos7-abi
(centos7's RPMs) until a salt-master on debian12 (our debian12 packages) gets its test.ping,
median over repeats, printed as a table.

    .venv/bin/python bench/bench_el7_minion.py [--repeats 5]

Needs dist/centos7/ and dist/debian12/ (harness build centos7; harness build debian12).
Each repeat restores the minion box to right after install, so the minion starts from
scratch: key made, sent, accepted by the master, then test.ping answered.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from medians import print_medians

from harness import paths, session
from verification.packages import PackageSet
from verification.salt import SaltMaster, SaltMinion


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    session.terminate_as_interrupt()
    minion_packages = PackageSet.load(paths.package_set_dir("centos7"), "centos7")
    master_packages = PackageSet.load(paths.package_set_dir("debian12"), "debian12")
    tag = f"bench-{os.getpid()}"
    samples: list[float] = []
    with (
        session.box_instance("debian12", name=f"{tag}-master") as master_box,
        session.box_instance("centos7-abi", name=f"{tag}-minion") as minion_box,
    ):
        master_packages.install(master_box, ["salt", "salt-master"])
        assert master_box.instance is not None
        master = SaltMaster(master_box, master_box.instance.address)
        master.start()
        minion_packages.install(minion_box)
        session.snapshot_machine(minion_box, "installed")
        for n in range(args.repeats):
            session.restore_machine(minion_box, "installed")
            minion = SaltMinion(minion_box, master)
            minion.forget()
            minion.configure()
            started = time.monotonic()
            minion.restart(accept=True)
            if master.salt(minion.id, "test.ping") is not True:
                sys.exit(f"repeat {n}: test.ping did not answer True")
            samples.append(time.monotonic() - started)
    print_medians(
        "minion on glibc 2.17 (centos7-abi) answering a debian12 master",
        "what",
        {"salt-minion -d until test.ping returns": samples},
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
