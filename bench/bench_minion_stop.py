"""How long an admin's stop of salt-minion takes: idle, and with a job running (test.sleep,
as the suites' graceful-stop check does), seconds from the init system's stop command to
its return, medians over repeats, printed as a table.

    .venv/bin/python bench/bench_minion_stop.py [--box debian12] [--repeats 5]

Needs the box's packages in dist/ (harness build BOX) and a master of the same release (its
catalog entry's `master`, or the box itself). Each repeat starts the minion again and waits
until it is connected before it stops it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from medians import print_medians

from harness import catalog, paths, platform, session
from verification.packages import PackageSet
from verification.salt import SaltMaster, SaltMinion, wait_until


def stop_seconds(minion: SaltMinion, with_job: bool) -> float:
    machine = minion.machine
    minion.restart(kill=True)
    if with_job:
        minion.master.machine.run(f"salt --async {minion.id} test.sleep 300 >/dev/null")
        if not wait_until(machine, "ps -eo args | grep -q '[P]rocessPayload'", 30):
            sys.exit("the test.sleep job did not start on the minion")
    stop = platform.of(machine.spec).services.stop_outcome("salt-minion")
    started = time.monotonic()
    outcome = machine.run(stop, check=False, timeout=300).stdout.split()
    took = time.monotonic() - started
    if outcome[:2] != ["0", "success"]:
        sys.exit(f"the stop did not succeed: {' '.join(outcome)}")
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--box", default="debian12")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    session.terminate_as_interrupt()
    box = catalog.load_box(args.box)
    own = PackageSet.load(paths.package_set_dir(box.packages_box), box.packages_box)
    master_box = box.master or box.name
    theirs = PackageSet.load(paths.package_set_dir(master_box), master_box)
    tag = f"bench-stop-{os.getpid()}"
    samples: dict[str, list[float]] = {"idle": [], "a job running": []}
    with (
        session.box_instance(master_box, name=f"{tag}-master") as master_machine,
        session.box_instance(box.name, name=f"{tag}-minion") as minion_machine,
    ):
        theirs.install(master_machine, ["salt", "salt-master"])
        assert master_machine.instance is not None
        master = SaltMaster(master_machine, master_machine.instance.address)
        master.start()
        own.install(minion_machine)
        minion = SaltMinion(minion_machine, master)
        minion.sign_in()
        for _ in range(args.repeats):
            for case, with_job in (("idle", False), ("a job running", True)):
                samples[case].append(stop_seconds(minion, with_job))
    print_medians(f"stop of salt-minion on {box.name} (Salt's bound: 20 s)", "minion", samples)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
