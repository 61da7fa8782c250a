"""The comparison of our suites with Salt's package tests (signoff/peer_compare.py): what a
verify run's summary says each of them failed, the records and the table, without a box."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys

from signoff import peer_compare, peer_jobs


def check(name: str, outcome: str) -> dict:
    return {"name": name, "outcome": outcome}


def test_each_suites_failures_are_read_apart_and_not_applicable_is_no_failure():
    summary = {
        "boxes": [{"checks": [check("test_a[debian12]", "failed"), check("test_b", "passed")]}],
        "peer": {
            "boxes": [
                {
                    "checks": [
                        check("integration/test_x.py::test_y", "error"),
                        check("integration/test_x.py::test_z", "not applicable"),
                        check("integration/test_x.py::test_w", "skipped"),
                    ]
                }
            ]
        },
    }
    assert peer_compare.failing(summary) == (
        ["test_a[debian12]"],
        ["integration/test_x.py::test_y"],
    )
    assert peer_compare.failing({"boxes": [{"checks": []}]}) == ([], [])


def test_the_table_says_who_caught_each_defect_and_what_is_not_run(tmp_path, monkeypatch):
    monkeypatch.setattr(peer_compare, "RECORDS", tmp_path)
    seen = peer_compare.Record(
        "version-stamp", "debian12", "d", "o", "digest", ours=["test_v"], theirs=["a.py::test_t"]
    )
    (tmp_path / "version-stamp.json").write_text(json.dumps(seen.__dict__))
    missed = peer_compare.Record("conffile", "debian12", "d", "o", "digest", ours=["test_c"])
    (tmp_path / "conffile.json").write_text(json.dumps(missed.__dict__))
    rows = peer_compare.table(["version-stamp", "conffile", "ld-export"]).splitlines()
    assert rows[2] == "| `version-stamp` | both | `test_v` | `test_t` |"
    assert rows[3] == "| `conffile` | ours | `test_c` | none |"
    assert rows[4] == "| `ld-export` | not run yet | | |"
    assert peer_compare.Record("x", "b", "d", "o", "g").caught_by == "neither"


def test_every_debian_defect_is_compared_and_a_wrong_name_is_one_line():
    assert "version-stamp" in peer_compare.debian_defects()
    assert not set(peer_compare.debian_defects()) & peer_compare.defects.CENTOS7
    proc = subprocess.run(
        [sys.executable, "-m", "signoff.peer_compare", "stdlib-gap", "--table"],
        capture_output=True,
        text=True,
        cwd=peer_compare.paths.REPO_ROOT,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "peer-compare: not a defect of the Debian packages: stdlib-gap "
        "(harness build --list-defects lists them)"
    ]


def test_each_job_has_a_namespace_of_its_own_apart_from_the_harness(monkeypatch):
    monkeypatch.delenv("SVH_NETWORK", raising=False)
    monkeypatch.delenv("SVH_BRIDGE", raising=False)
    jobs = [peer_jobs.namespace(slot) for slot in (1, 2)]
    for name in jobs[0]:
        assert jobs[0][name] != jobs[1][name], name
    subnets = [ipaddress.ip_network(j["SVH_NETWORK"]) for j in jobs]
    taken = [ipaddress.ip_network(n) for n in ("10.242.17.0/24", "10.242.18.0/24")]
    assert not any(s.overlaps(t) for s in subnets for t in taken + subnets if s is not t)
    assert all(len(j["SVH_BRIDGE"]) <= 15 for j in jobs)  # Linux's limit on a link's name


def test_jobs_take_turns_and_a_single_run_takes_none(tmp_path):
    lock = tmp_path / "turns"
    probe = (
        "import fcntl, sys; f = open(sys.argv[1], 'a')\n"
        "try: fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError: sys.exit(3)"
    )
    with peer_jobs.turn(lock):
        held = subprocess.run([sys.executable, "-c", probe, str(lock)])
    free = subprocess.run([sys.executable, "-c", probe, str(lock)])
    assert (held.returncode, free.returncode) == (3, 0)
    with peer_jobs.turn(None):
        pass


def test_no_jobs_is_one_line():
    proc = subprocess.run(
        [sys.executable, "-m", "signoff.peer_compare", "--jobs", "0", "conffile"],
        capture_output=True,
        text=True,
        cwd=peer_compare.paths.REPO_ROOT,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "peer-compare: --jobs 0: give 1 or more"
