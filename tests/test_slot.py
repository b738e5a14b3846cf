"""Work slots (bench/run/slot.py, bench/run/worktree.py): kept between runs, moved with git, never a wrong kernel.

Real git on the test world's tree, the fake kbuild and the fake vng; what is checked is what
make would see: which files got new mtimes, and when the image is reused.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import World, commit_files, git

from bench.base import proc
from bench.base.errors import InfraError
from bench.cli.main import main as bench_main
from bench.run import slot, worktree

META = "kconfigs: [debug-vm]\nworkloads: [gup-test, pin-balance]\n"


def run(world: World, series: str) -> dict[str, Any]:
    world.results.mkdir(exist_ok=True)
    before = set(world.results.iterdir())
    bench_main(["run", series, "--accel", "tcg", "--results", str(world.results)])
    (new,) = set(world.results.iterdir()) - before
    summary: dict[str, Any] = json.loads((new / "summary.json").read_text())
    return summary


def message(summary: dict[str, Any], key: str) -> str:
    return next(c["message"] for c in summary["cases"] if f"{c['group']}/{c['name']}" == key)


def src() -> Path:
    return Path(os.environ["BENCH_CACHE"]) / "work" / "slot-1" / "src"


def stamp(path: Path, ns: int = 1_000_000_000) -> None:
    os.utime(path, ns=(ns, ns))  # an old mtime, as a file has long after its build


@pytest.fixture
def world(world: World) -> World:
    world.replay("baseline-tcg")
    world.series("two", META)
    world.series("none", META, quilt=False)
    return world


def test_the_slot_stays_and_an_unchanged_kernel_is_not_rebuilt(world: World) -> None:
    first = run(world, "two")
    assert first["verdict"] == "pass" and first["info"]["slot"] == "slot-1"
    assert (src() / ".git").is_file()  # the worktree is kept for the next run
    second = run(world, "two")
    assert second["info"]["slot"] == "slot-1"
    assert message(second, "build/kernel").startswith("reused: the slot's image is of this commit")
    builds = [next(c for c in s["cases"] if c["group"] == "build") for s in (first, second)]
    assert "reused" not in builds[0] and builds[1]["reused"] is True  # as data, not read from the message
    assert second["info"]["head"] == first["info"]["head"]  # same patches, same base: same commit
    (folder,) = [d for d in world.results.iterdir() if d.name == second["run_id"]]
    assert (folder / "build.log").read_text().startswith("reused: ")  # every run keeps a build.log


def test_only_the_files_that_differ_from_the_last_build_get_new_mtimes(world: World) -> None:
    run(world, "two")  # builds the two patches (mm/gup.c and include/linux/mm.h)
    for name in ("mm/gup.c", "include/linux/mm.h", "mm/rmap.c", "Makefile"):
        stamp(src() / name)
    run(world, "none")  # the base: both patched files go back, and get new mtimes
    assert os.stat(src() / "mm/gup.c").st_mtime_ns > 1_000_000_000
    assert os.stat(src() / "include/linux/mm.h").st_mtime_ns > 1_000_000_000
    assert os.stat(src() / "mm/rmap.c").st_mtime_ns == 1_000_000_000  # untouched
    for name in ("mm/gup.c", "include/linux/mm.h"):
        stamp(src() / name)
    again = run(world, "none")  # checkout of the base after a build of the base: nothing to redo
    assert os.stat(src() / "mm/gup.c").st_mtime_ns == 1_000_000_000
    assert message(again, "build/kernel").startswith("reused")
    run(world, "two")  # the patches again: rewritten files that differ get new mtimes
    assert os.stat(src() / "mm/gup.c").st_mtime_ns > 1_000_000_000
    assert git(src(), "status", "--porcelain") == ""


def test_a_file_rewritten_with_its_built_content_keeps_its_mtime(world: World) -> None:
    run(world, "two")
    stamp(src() / "mm/gup.c")
    (src() / "mm/gup.c").write_text("/* a hand edit in the slot */\n")  # dirty: checkout rewrites it
    stamp(src() / "mm/gup.c", 2_000_000_000)
    summary = run(world, "two")
    assert (src() / "mm/gup.c").read_text() != "/* a hand edit in the slot */\n"
    # Same content as the last build: its old (pre-checkout) mtime is back, and the image is reused.
    assert os.stat(src() / "mm/gup.c").st_mtime_ns == 2_000_000_000
    assert message(summary, "build/kernel").startswith("reused")


def test_a_failed_build_is_never_taken_for_a_built_one(world: World) -> None:
    run(world, "two")
    world.mp.setenv("FAIL", "build")
    assert run(world, "none")["verdict"] == "fail"
    assert json.loads((src().parent / "state.json").read_text())["built"] == ""
    world.mp.delenv("FAIL")
    assert not message(run(world, "none"), "build/kernel").startswith("reused")  # make runs again


def test_a_broken_worktree_is_made_again(world: World) -> None:
    run(world, "two")
    (src() / ".git").unlink()
    summary = run(world, "two")
    assert summary["verdict"] == "pass" and (src() / ".git").is_file()
    assert not message(summary, "build/kernel").startswith("reused")


def test_a_new_base_commit_moves_the_slot(world: World) -> None:
    first = run(world, "none")
    commit_files(world.tree, {"mm/rmap.c": "/* rmap, upstream fix */\n"}, "mm/rmap: upstream")
    second = run(world, "none")
    assert second["info"]["slot"] == "slot-1" and second["info"]["base"] != first["info"]["base"]
    assert (src() / "mm/rmap.c").read_text() == "/* rmap, upstream fix */\n"
    assert not message(second, "build/kernel").startswith("reused")


def test_concurrent_runs_get_different_slots_up_to_the_cap(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_SLOTS", "2")
    monkeypatch.setenv("BENCH_SLOT_WAIT", "0")
    with slot.acquire(tmp_path, "repo", "cfg", "a") as one, slot.acquire(tmp_path, "repo", "cfg", "a") as two:
        assert one.path != two.path
        with pytest.raises(InfraError, match="all 2 work slots are busy"):
            with slot.acquire(tmp_path, "repo", "cfg", "a"):
                pass


def test_the_best_matching_free_slot_is_taken(tmp_path: Path) -> None:
    with slot.acquire(tmp_path, "repo", "cfg-a", "a") as s:
        s.save(slot.State(tree="repo", config_key="cfg-a", series="a", used=1.0))
    with slot.acquire(tmp_path, "repo", "cfg-b", "b") as s:
        assert s.path.name == "slot-2"  # another configuration: its own slot
        s.save(slot.State(tree="repo", config_key="cfg-b", series="b", used=2.0))
    with slot.acquire(tmp_path, "repo", "cfg-a", "c") as s:
        assert s.path.name == "slot-1"  # same configuration beats more recent use
    with slot.acquire(tmp_path, "other-repo", "cfg-a", "a") as s:
        assert s.path.name == "slot-3"  # nothing of that tree to reuse: a new slot under the cap


def test_gc_keeps_the_most_recently_used(tmp_path: Path) -> None:
    for i, used in enumerate((3.0, 1.0, 2.0)):
        with slot.acquire(tmp_path, f"repo{i}", "cfg", "s") as s:
            s.save(slot.State(tree=f"repo{i}", used=used))
    removed = slot.gc(tmp_path, keep=1)
    assert sorted(p.name for p in removed) == ["slot-2", "slot-3"]
    assert [p.name for p in (tmp_path / "work").iterdir() if p.is_dir()] == ["slot-1"]


def leftover_make(slot_dir: Path) -> subprocess.Popen[bytes]:
    """A make that went on after its bench was SIGKILLed: its own session, working in the slot."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "make", "-C",
                              str(slot_dir / "src"), f"O={slot_dir / 'build'}"], start_new_session=True)
    deadline = time.monotonic() + 10
    while not proc.works_in(child.pid, slot_dir) and time.monotonic() < deadline:
        time.sleep(0.02)  # until exec has put the argv in place
    return child


def test_a_build_left_running_by_a_killed_run_is_killed_and_not_trusted(world: World) -> None:
    run(world, "two")
    slot_dir = src().parent
    state = slot.read_state(slot_dir)
    assert state.built and state.building == 0  # a finished build leaves no process group behind
    old = slot_dir / "build" / "mm" / "rmap.o"
    stamp(old)
    since = time.time()
    child = leftover_make(slot_dir)
    half = slot_dir / "build" / "mm" / "gup.o"
    half.write_text("half an object")  # what the killed build was writing
    slot.Slot(slot_dir, state).save(dataclasses.replace(state, building=child.pid, building_since=since))
    said: list[str] = []
    with slot.acquire(world.cache, state.tree, state.config_key, "two", said.append) as s:
        assert child.wait(timeout=5) == -signal.SIGKILL  # killed before the slot was handed out
        assert s.state.built == "" and s.state.building == 0 and s.state.image_sha == ""
        assert not half.exists() and old.exists()  # what it wrote goes, older objects stay
    assert any("still running" in line for line in said)
    summary = run(world, "two")
    assert summary["verdict"] == "pass" and not message(summary, "build/kernel").startswith("reused")


def test_a_process_group_that_is_not_the_slot_s_is_left_alone(tmp_path: Path) -> None:
    with slot.acquire(tmp_path, "repo", "cfg", "a") as s:
        pass
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    try:
        s.save(slot.State(tree="repo", config_key="cfg", built="abc", building=other.pid, building_since=time.time()))
        with slot.acquire(tmp_path, "repo", "cfg", "a") as again:
            assert other.poll() is None  # an id reused by someone else's process: not killed
            assert again.state.built == "" and again.state.building == 0  # but the build never finished
    finally:
        other.kill()
        other.wait()


def test_a_stale_git_lock_of_a_killed_git_is_removed(world: World) -> None:
    run(world, "two")
    gitdir = Path(git(src(), "rev-parse", "--absolute-git-dir").strip())
    (gitdir / "index.lock").write_text("")  # git am was SIGKILLed mid-way
    summary = run(world, "none")
    assert summary["verdict"] == "pass", summary["cases"]
    assert not (gitdir / "index.lock").exists()


def test_a_git_lock_held_by_a_live_git_is_kept(world: World) -> None:
    run(world, "two")
    gitdir = Path(git(src(), "rev-parse", "--absolute-git-dir").strip())
    (gitdir / "index.lock").write_text("")
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "git", "-C", str(src())],
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not proc.works_in(holder.pid, src()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert worktree.stale_locks(src(), wait=0.3) == []
        holder.kill()
        holder.wait()
        assert worktree.stale_locks(src(), wait=0.3) == [gitdir / "index.lock"]
    finally:
        holder.kill()
        holder.wait()


# -- a state.json an older bench, a crash or a hand edit left (read back typed, never trusted) ----


@pytest.mark.parametrize("text, says", [
    ('{"used": "yesterday"}', "tree: missing"),  # an older file: fields missing
    ('{"tree": "r", "config_key": "c", "series": "a", "head": "", "built": "", "config_sha": "", "image_sha": "",'
     ' "used": "yesterday", "building": 0, "building_since": 0, "profiled": ""}', "used: str, not float"),
    ('{"tree": "r", "config_key": "c", "series": "a", "head": "", "built": "", "config_sha": "", "image_sha": "",'
     ' "used": 1, "building": "123", "building_since": 0, "profiled": ""}', "building: str, not int"),
    ('{"tree": "r", "config_key": "c", "series": "a", "head": "", "built": "", "config_sha": "", "image_sha": "",'
     ' "used": 1, "building": 99999999999999999999, "building_since": 0, "profiled": ""}', "is not a process group"),
    ('{"tree": ["r"], "used": 1}', "tree: list, not str"),
    pytest.param("[" * 100000 + "]" * 100000, "nested over the limit", id="deep"),
    ('{"used": 1e999}', "out of range"),
    ("\xff\xfe", "not UTF-8"),
    ("{", "not JSON"),
])
def test_a_broken_or_older_state_is_named_and_the_slot_rebuilt(tmp_path: Path, text: str, says: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """An untyped read gave State(used="yesterday") or State(building="123"): the next run that
    chose a slot (sorting by used) or reclaimed it (killing group "123") crashed."""
    with slot.acquire(tmp_path, "r", "c", "a") as s:
        s.save(slot.State(tree="r", config_key="c", series="a", built="abc", used=1.0))
    (tmp_path / "work" / "slot-1" / slot.STATE).write_bytes(text.encode("latin-1"))
    slot.formats._warned.clear()
    with slot.acquire(tmp_path, "r", "c", "a") as s:
        assert s.state == slot.State()  # nothing of it trusted: the slot is rebuilt
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "slot-1/state.json" in err[0] and says in err[0] and err[0].endswith("rebuilt"), err


# -- the slot is the one owner of its incremental-build state (issue 22 item 4) ----------------


def test_the_reuse_decision_needs_commit_config_profile_and_the_image_itself(tmp_path: Path) -> None:
    s = slot.Slot(tmp_path, slot.State())
    s.image.parent.mkdir(parents=True)
    s.image.write_text("kernel")
    (s.build / ".config").write_text("CONFIG_MMU=y\n")
    built = slot.State(head="c1", built="c1", config_sha=slot.sha256_of(s.build / ".config"),
                       image_sha=slot.sha256_of(s.image), profiled="")
    reuse = slot.reused(s.save(built), "")
    assert reuse is not None and reuse.image == s.image and reuse.built == "c1"
    assert slot.reused(s.save(dataclasses.replace(built, head="c2")), "") is None  # another commit
    assert slot.reused(s.save(built), "mm/gup.o") is None  # another set of profiled objects
    (s.build / ".config").write_text("CONFIG_MMU=y\nCONFIG_KASAN=y\n")
    assert slot.reused(s.save(built), "") is None  # another .config
    (s.build / ".config").write_text("CONFIG_MMU=y\n")
    s.image.write_text("another kernel")
    assert slot.reused(s.save(built), "") is None  # the image is not the file that build made


def test_the_pipeline_never_writes_a_slot_s_state() -> None:
    """Only bench/run/slot.py saves state.json: a stage that wrote fields by hand (built, building,
    image_sha) split one file's invariants over two modules."""
    import ast

    source = Path(__file__).resolve().parent.parent / "bench" / "run" / "pipeline.py"
    tree = ast.parse(source.read_text())
    writes = [f"line {n.lineno}" for n in ast.walk(tree) if isinstance(n, ast.Call) and (
        isinstance(n.func, ast.Attribute) and n.func.attr in ("save", "State"))]
    assert writes == [], writes
