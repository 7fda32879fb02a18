"""Crash consistency of the real commands: `sluice run --raw` and `sluice export` to a
local folder are killed with SIGKILL at random points. After every kill, the previous
complete output (its _SUCCESS and every file it lists, checked with hashlib) is intact
and readable by pyarrow; the next run succeeds and leaves only the files its own
_SUCCESS lists (no leftovers of the killed runs, no temporaries)."""
import hashlib
import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import SLUICE, run_sluice

ANCHOR = "2026-06-30 00:00:00"
AS_OF = "2026-06-30 00:00:00"


@pytest.fixture(scope="module")
def source(mariadb):
    db = mariadb.create_database()
    run_sluice(["seed", "--scale", "0.05", "--anchor", ANCHOR], env=mariadb.sluice_env(db), check=0)
    yield db
    mariadb.drop_database(db)


def partitions(root: Path):
    """Every folder holding a _SUCCESS, relative to root."""
    return sorted(str(p.parent.relative_to(root)) for p in root.rglob("_SUCCESS"))


def check_partition(root: Path, part: str):
    folder = root / part
    m = json.loads((folder / "_SUCCESS").read_text())
    for f in m["files"]:
        data = (folder / f["name"]).read_bytes()
        if f["name"] == "report.html" and "sha256:" + hashlib.sha256(data).hexdigest() != f["checksum"]:
            # The documented exception (README, "The run report"): report.html has a fixed
            # name, so a run killed between writing it and writing _SUCCESS leaves its own
            # report beside the previous manifest. It must then be a whole page of another run.
            assert data.startswith(b"<!DOCTYPE html>") and data.endswith(b"</html>\n"), "a half-written report"
            assert m["run_id"].encode() not in data
            continue
        assert len(data) == f["bytes"], f["name"]
        assert "sha256:" + hashlib.sha256(data).hexdigest() == f["checksum"], f["name"]
        if f["name"] != "report.html":  # the run report (HTML) has rows 0
            assert pq.ParquetFile(folder / f["name"]).metadata.num_rows == f["rows"]
    return m


def snapshot(root: Path):
    """run id and file checksums of every committed partition."""
    return {part: (m["run_id"], [(f["name"], f["checksum"]) for f in m["files"]])
            for part in partitions(root) for m in [check_partition(root, part)]}


def only_listed_files(root: Path):
    listed = set()
    for part in partitions(root):
        m = json.loads((root / part / "_SUCCESS").read_text())
        listed |= {str(Path(part) / f["name"]) for f in m["files"]}
        listed.add(str(Path(part) / "_SUCCESS"))
    present = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    return present - listed


COMMANDS = {
    "run": ["run", "--as-of", AS_OF, "--raw", "--progress", "off"],
    "export": ["export", "--date", "2026-06-30", "--partitions", "3", "--batch-rows", "500",
               "--progress", "off"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_kill_at_random_points(mariadb, source, tmp_path, command):
    env = mariadb.sluice_env(source)
    out = tmp_path / "out"
    args = [*COMMANDS[command], "--output", str(out)]
    t0 = time.monotonic()
    run_sluice(args, env=env, check=0)
    duration = time.monotonic() - t0
    before = snapshot(out)
    assert before and only_listed_files(out) == set()

    rng = random.Random(20261202)
    killed = 0
    for _ in range(12):
        p = subprocess.Popen([str(SLUICE), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0, duration * 1.1))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        p.wait(timeout=60)
        now = snapshot(out)
        # Each partition is complete: either the previous run's or a newer complete one.
        assert set(now) == set(before)
        for part, (run_id, files) in now.items():
            if run_id == before[part][0]:
                assert files == before[part][1], part  # the manifest's entries, report.html's included
        before = now
    assert killed >= 6, "the runs ended before the kill too often for the test to mean anything"

    run_sluice(args, env=env, check=0)
    final = snapshot(out)
    assert len({run_id for run_id, _ in final.values()}) == 1  # one run committed everything
    assert only_listed_files(out) == set()
