"""The shipped CI matrix (.github/workflows/signoff.yml): one job per box the catalog can
boot here, each keeping its report, and a merge job that joins them."""

from __future__ import annotations

import yaml

from harness import catalog, paths

WORKFLOW = paths.REPO_ROOT / ".github" / "workflows" / "signoff.yml"


def test_one_verify_job_per_bootable_box_then_one_merge():
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    boxes = jobs["verify"]["strategy"]["matrix"]["box"]
    assert len(boxes) == len(set(boxes))
    for box in boxes:
        assert catalog.load_box(box).providers.nspawn is not None, box
    commands = [s.get("run", "") for s in jobs["verify"]["steps"]]
    assert "sudo ./run main ${{ matrix.box }}" in commands
    uploads = [s for s in jobs["verify"]["steps"] if "upload-artifact" in s.get("uses", "")]
    assert uploads and uploads[0]["with"]["path"] == "reports/"
    assert jobs["merge"]["needs"] == "verify" and jobs["merge"]["if"] == "always()"
    merge = "\n".join(s.get("run", "") for s in jobs["merge"]["steps"])
    assert "harness report merge shards/report-*/*" in merge
