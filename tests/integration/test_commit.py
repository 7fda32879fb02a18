"""The commit protocol under kill -9: build/tools/commit_crash commits files to a local
folder and is killed at chosen and at random points. After every kill the partition's
_SUCCESS and every file it lists must be intact (sizes and SHA-256 computed here with
hashlib), and the next complete run must leave only its own files."""
import hashlib
import json
import os
import random
import signal
import subprocess
import time

import pytest

from conftest import TOOLS

TOOL = TOOLS / "commit_crash"
PART = "raw/orders/2026-12-02"


def start(root, *args):
    assert TOOL.exists(), f"{TOOL} is not built; run make"
    return subprocess.Popen([str(TOOL), str(root), PART, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_complete(root, *args):
    p = start(root, *args)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, f"commit_crash exited {p.returncode}\n{out}\n{err}"
    assert out.splitlines()[-1] == "committed"
    return out.splitlines()[0].split()[1]  # "run <id>"


def files_in(root):
    folder = root / PART
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def check_manifest(root):
    """The manifest and every file it lists, checked independently; returns the manifest."""
    folder = root / PART
    m = json.loads((folder / "_SUCCESS").read_text())
    assert m["partition"] == PART + "/"
    assert m["as_of"] == "2026-12-02"
    for f in m["files"]:
        data = (folder / f["name"]).read_bytes()
        assert len(data) == f["bytes"], f["name"]
        assert "sha256:" + hashlib.sha256(data).hexdigest() == f["checksum"], f["name"]
        assert f["key"] == f"{PART}/{f['name']}"
        assert m["run_id"] in f["name"]
    assert m["total_bytes"] == sum(f["bytes"] for f in m["files"])
    return m


def kill_after_line(root, prefix, count, *args):
    """Starts a run and kills it (SIGKILL) once `count` stdout lines start with `prefix`."""
    p = start(root, *args)
    seen = 0
    run = None
    for line in p.stdout:
        if line.startswith("run "):
            run = line.split()[1]
        if line.startswith(prefix):
            seen += 1
            if seen >= count:
                break
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    return run


def test_complete_run_then_rerun_replaces(tmp_path):
    a = run_complete(tmp_path, "--files", 3, "--size", 100000)
    m = check_manifest(tmp_path)
    assert m["run_id"] == a
    assert [f["rows"] for f in m["files"]] == [1, 2, 3]
    assert files_in(tmp_path) == sorted(["_SUCCESS"] + [f["name"] for f in m["files"]])
    b = run_complete(tmp_path, "--files", 2, "--size", 5000, "--threads", 2)
    m = check_manifest(tmp_path)
    assert m["run_id"] == b != a
    assert files_in(tmp_path) == sorted(["_SUCCESS"] + [f["name"] for f in m["files"]])
    assert not any(a in f for f in files_in(tmp_path))


@pytest.mark.parametrize("point", ["first-file", "after-two-files", "before-finish"])
def test_kill_keeps_previous_output_and_next_run_cleans(tmp_path, point):
    a = run_complete(tmp_path, "--files", 3, "--size", 50000)
    before = (tmp_path / PART / "_SUCCESS").read_bytes()
    slow = ["--files", 4, "--size", 262144, "--chunk", 16384, "--sleep-ms", 5, "--pause-before-finish-ms", 2000]
    if point == "first-file":
        killed = kill_after_line(tmp_path, "run ", 1, *slow)
        time.sleep(0.05)  # the tool is killed by now; nothing can change below
    elif point == "after-two-files":
        killed = kill_after_line(tmp_path, "file ", 2, *slow)
    else:
        killed = kill_after_line(tmp_path, "finishing", 1, *slow)
    # the previous output, byte for byte
    assert (tmp_path / PART / "_SUCCESS").read_bytes() == before
    assert check_manifest(tmp_path)["run_id"] == a
    leftovers = [f for f in files_in(tmp_path) if killed in f]
    if point != "first-file":
        assert leftovers, "the killed run should have left files behind"
    if point == "before-finish":
        assert len(leftovers) == 4 and not any(".tmp-" in f for f in leftovers)
    c = run_complete(tmp_path, "--files", 2, "--size", 1000)
    m = check_manifest(tmp_path)
    assert m["run_id"] == c
    assert files_in(tmp_path) == sorted(["_SUCCESS"] + [f["name"] for f in m["files"]])


def test_kill_at_random_points(tmp_path):
    """Kills at random times across whole runs (4 files written by 2 threads, then the
    manifest and the cleanup): after each kill one complete output is readable, either
    the previous run's or, if the kill came after the killed run's manifest, that one."""
    rng = random.Random(20261202)
    run_complete(tmp_path, "--files", 2, "--size", 10000)
    args = ["--files", 4, "--size", 131072, "--chunk", 16384, "--sleep-ms", 3, "--threads", 2]
    p = start(tmp_path, *args)
    p.stdout.readline()
    t0 = time.monotonic()
    p.communicate(timeout=60)
    duration = time.monotonic() - t0  # from the "run" line to the end
    committed = check_manifest(tmp_path)["run_id"]
    outcomes = {"before manifest": 0, "after manifest": 0, "not killed": 0}
    for _ in range(16):
        p = start(tmp_path, *args)
        run = p.stdout.readline().split()[1]
        time.sleep(rng.uniform(0, duration * 1.5))
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=30)
        m = check_manifest(tmp_path)
        assert m["run_id"] in (committed, run)
        if p.returncode != -signal.SIGKILL:
            assert p.returncode == 0 and m["run_id"] == run
            outcomes["not killed"] += 1
        elif m["run_id"] == run:
            outcomes["after manifest"] += 1
        else:
            outcomes["before manifest"] += 1
        committed = m["run_id"]
    final = run_complete(tmp_path, "--files", 1, "--size", 10)
    m = check_manifest(tmp_path)
    assert m["run_id"] == final
    assert files_in(tmp_path) == ["_SUCCESS", f"part-00000-{final}.bin"]
    print(outcomes, duration)
    assert outcomes["before manifest"] > 0, outcomes  # some kills did land mid-run


def test_failure_leaves_previous_output(tmp_path):
    """A run that fails (a folder squats one of its file names) writes no _SUCCESS and
    removes its other files; the previous output stays."""
    a = run_complete(tmp_path, "--files", 2, "--size", 1000)
    before = (tmp_path / PART / "_SUCCESS").read_bytes()
    run = "20261202T230000Z-deadbeef"
    (tmp_path / PART / f"part-00001-{run}.bin").mkdir()
    p = start(tmp_path, "--files", 3, "--size", 1000, "--run-id", run)
    out, err = p.communicate(timeout=60)
    assert p.returncode != 0
    assert f"part-00001-{run}.bin" in err
    assert (tmp_path / PART / "_SUCCESS").read_bytes() == before
    assert check_manifest(tmp_path)["run_id"] == a
    assert [f for f in files_in(tmp_path) if run in f] == []


def check_appended(root):
    """An appending partition: every listed file intact, each named with one of the runs
    of "runs", and "runs" naming exactly the listed files."""
    folder = root / PART
    m = json.loads((folder / "_SUCCESS").read_text())
    ids = [r["run_id"] for r in m["runs"]]
    for f in m["files"]:
        data = (folder / f["name"]).read_bytes()
        assert len(data) == f["bytes"] and "sha256:" + hashlib.sha256(data).hexdigest() == f["checksum"], f["name"]
        assert any(i in f["name"] for i in ids)
    assert sorted(n for r in m["runs"] for n in r["files"]) == sorted(f["name"] for f in m["files"])
    assert m["total_bytes"] == sum(f["bytes"] for f in m["files"])
    return ids


def test_kill_during_appends(tmp_path):
    """Appending commits (incremental runs of one date) killed at random points: after
    each kill the partition lists every run committed before, intact, plus the killed run
    only if its manifest was written; nothing committed is ever lost."""
    rng = random.Random(20261206)
    committed = [run_complete(tmp_path, "--files", 2, "--size", 10000)]
    args = ["--files", 3, "--size", 131072, "--chunk", 16384, "--sleep-ms", 10, "--threads", 2, "--append", 1]
    committed.append(run_complete(tmp_path, *args))
    assert check_appended(tmp_path) == committed
    lost = 0
    for _ in range(8):
        p = start(tmp_path, *args)
        run = p.stdout.readline().split()[1]
        time.sleep(rng.uniform(0, 0.25))  # the files take about 0.2 s to write
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=30)
        ids = check_appended(tmp_path)
        if ids == committed + [run]:
            committed.append(run)
        else:
            assert ids == committed
            lost += 1
    last = run_complete(tmp_path, "--files", 1, "--size", 10, "--append", 1)
    assert check_appended(tmp_path) == committed + [last]
    m = json.loads((tmp_path / PART / "_SUCCESS").read_text())
    assert files_in(tmp_path) == sorted(["_SUCCESS"] + [f["name"] for f in m["files"]])  # leftovers deleted
    assert lost > 0
