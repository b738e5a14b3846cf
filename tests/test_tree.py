"""bench.run.tree with real git on tiny repos: tree choice, worktrees, git am one patch at a time."""

from __future__ import annotations

import io
import shutil
import tarfile
import threading
import time
from pathlib import Path

import pytest
from conftest import commit_files, git

from bench.base.errors import UserError
from bench.run.series import Series, load_series
from bench.run.tree import (
    ApplyResult,
    PatchResult,
    apply_series,
    default_tree,
    find_tarball,
    resolve_base,
    resolve_tree,
)
from bench.run.worktree import worktree

SERIES = Path(__file__).parent / "data" / "series"


# -- which tree -----------------------------------------------------------------------------


def test_tree_arg_and_env(kernel_repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert resolve_tree(str(kernel_repo), {}, cache) == kernel_repo
    assert resolve_tree(None, {"BENCH_TREE": str(kernel_repo)}, cache) == kernel_repo
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(UserError, match="--tree"):  # --tree wins over $BENCH_TREE
        resolve_tree(str(other), {"BENCH_TREE": str(kernel_repo)}, cache)


def test_bad_tree(kernel_repo: Path, tmp_path: Path) -> None:
    def bad(path: Path, match: str) -> None:
        with pytest.raises(UserError, match=match):
            resolve_tree(str(path), {}, tmp_path / "cache")

    bad(tmp_path / "nope", "no such directory")
    plain = tmp_path / "plain"
    plain.mkdir()
    bad(plain, "no Makefile")
    (plain / "Makefile").write_text("all:\n")
    bad(plain, "not a git repository")
    (kernel_repo / "mm" / "Makefile").write_text("obj-y += gup.o\n")
    bad(kernel_repo / "mm", "not its top level")


def make_tarball(path: Path, top: str = "linux-source-6.12") -> Path:
    """A tiny linux-source tarball with Debian's ignore-everything .gitignore."""
    files = {
        "Makefile": "VERSION = 6\nPATCHLEVEL = 12\n",
        "mm/gup.c": "/* gup */\n",
        ".mailmap": "Fake <fake@example.org>\n",
        # Like Debian's: kernel rules, then "ignore everything at the top level".
        ".gitignore": ".*\n*.o\n# Debian packaging\n/*\n!/debian/\n",
    }
    with tarfile.open(path, "w:xz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_default_tree_from_tarball_then_reused(tmp_path: Path) -> None:
    tarball = make_tarball(tmp_path / "linux-source-6.12.tar.xz")
    cache = tmp_path / "cache"
    tree = resolve_tree(None, {"BENCH_TARBALL": str(tarball)}, cache)
    assert tree == cache / "linux-source-6.12"
    files = git(tree, "ls-files").split()
    assert sorted(files) == [".gitignore", ".mailmap", "Makefile", "mm/gup.c"]
    assert git(tree, "rev-list", "--count", "HEAD").strip() == "1"
    log = git(tree, "log", "-1", "--format=%an <%ae> %s")
    assert log.strip() == "pinbench <pinbench@localhost> linux-source-6.12.tar.xz"
    assert git(tree, "config", "gc.auto").strip() == "0"
    assert git(tree, "status", "--porcelain") == ""
    assert [p.name for p in cache.iterdir() if ".tmp-" in p.name] == []
    head = git(tree, "rev-parse", "HEAD")
    tarball.unlink()  # reuse must not need to unpack again
    make_tarball(tarball, top="something-else")
    assert resolve_tree(None, {"BENCH_TARBALL": str(tarball)}, cache) == tree
    assert git(tree, "rev-parse", "HEAD") == head


def test_default_tree_commit_depends_on_the_tarball_only(tmp_path: Path) -> None:
    """Two machines (two caches) that unpack the same tarball at different times get one commit
    id: a proof resumed, or a run compared, on another machine finds its base."""
    tarball = make_tarball(tmp_path / "linux-source-6.12.tar.xz")
    first = git(resolve_tree(None, {"BENCH_TARBALL": str(tarball)}, tmp_path / "a"), "rev-parse", "HEAD")
    time.sleep(1.1)  # git's dates have a resolution of a second
    second = git(resolve_tree(None, {"BENCH_TARBALL": str(tarball)}, tmp_path / "b"), "rev-parse", "HEAD")
    assert first == second


def test_default_tree_concurrent_runs_make_it_once(tmp_path: Path) -> None:
    tarball = make_tarball(tmp_path / "linux-source-6.12.tar.xz")
    cache = tmp_path / "cache"
    out: list[Path] = []
    threads = [threading.Thread(target=lambda: out.append(default_tree(tarball, cache)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [cache / "linux-source-6.12"] * 2
    assert git(out[0], "rev-list", "--count", "HEAD").strip() == "1"


def test_find_tarball(tmp_path: Path) -> None:
    for v in ("6.1", "6.12", "6.9"):
        (tmp_path / f"linux-source-{v}.tar.xz").write_text("")
    assert find_tarball({}, tmp_path).name == "linux-source-6.12.tar.xz"
    other = tmp_path / "x.tar.xz"
    other.write_text("")
    assert find_tarball({"BENCH_TARBALL": str(other)}, tmp_path) == other
    with pytest.raises(UserError, match="BENCH_TARBALL"):
        find_tarball({"BENCH_TARBALL": str(tmp_path / "gone.tar.xz")}, tmp_path)
    with pytest.raises(UserError, match="install linux-source-6.12.*--tree"):
        find_tarball({}, tmp_path / "empty")


def test_resolve_base(kernel_repo: Path) -> None:
    head = git(kernel_repo, "rev-parse", "HEAD").strip()
    assert resolve_base(kernel_repo, None) == head
    assert resolve_base(kernel_repo, head[:8]) == head
    assert resolve_base(kernel_repo, "master~1") == git(kernel_repo, "rev-parse", "HEAD~1").strip()
    for bad in ("v9.99", "-h", "deadbeef"):
        with pytest.raises(UserError, match="no such commit|not a git revision"):
            resolve_base(kernel_repo, bad)


# -- worktrees ------------------------------------------------------------------------------


def snapshot(repo: Path) -> tuple[str, ...]:
    """Everything a run must not change in the base tree."""
    return (git(repo, "rev-parse", "HEAD"), git(repo, "symbolic-ref", "HEAD"),
            git(repo, "status", "--porcelain", "--ignored"), git(repo, "ls-files", "-s"),
            git(repo, "for-each-ref"), (repo / "mm/gup.c").read_text())


def linked_worktrees(repo: Path) -> list[str]:
    lines = git(repo, "worktree", "list", "--porcelain").splitlines()
    return [ln for ln in lines if ln.startswith("worktree ")][1:]


def test_worktree_detached_at_base_and_removed(kernel_repo: Path, tmp_path: Path) -> None:
    base = resolve_base(kernel_repo, "HEAD~1")
    with worktree(kernel_repo, base, tmp_path / "wt") as wt:
        assert git(wt, "rev-parse", "HEAD").strip() == base
        assert git(wt, "rev-parse", "--abbrev-ref", "HEAD") == "HEAD\n"  # detached
        assert "unpin_user_page" not in (wt / "mm/gup.c").read_text()
    assert not wt.exists()
    assert linked_worktrees(kernel_repo) == []


def test_worktree_removed_after_exception(kernel_repo: Path, tmp_path: Path) -> None:
    before = snapshot(kernel_repo)
    with pytest.raises(RuntimeError, match="boom"):
        with worktree(kernel_repo, resolve_base(kernel_repo, None), tmp_path / "wt") as wt:
            (wt / "build.o").write_text("junk")  # untracked files must not block removal
            (wt / "mm/gup.c").write_text("changed")
            raise RuntimeError("boom")
    assert not (tmp_path / "wt").exists()
    assert linked_worktrees(kernel_repo) == []
    assert snapshot(kernel_repo) == before


def test_stale_worktree_is_replaced(kernel_repo: Path, tmp_path: Path) -> None:
    stale = tmp_path / "wt"
    git(kernel_repo, "worktree", "add", "-q", "--detach", str(stale), "HEAD~1")
    (stale / "leftover").write_text("from a killed run")
    head = resolve_base(kernel_repo, None)
    with worktree(kernel_repo, head, stale) as wt:
        assert not (wt / "leftover").exists()
        assert git(wt, "rev-parse", "HEAD").strip() == head
    assert linked_worktrees(kernel_repo) == []


def test_foreign_directory_is_not_deleted(kernel_repo: Path, tmp_path: Path) -> None:
    (tmp_path / "wt").mkdir()
    (tmp_path / "wt" / "precious").write_text("keep")
    with pytest.raises(UserError, match="not a worktree"):
        with worktree(kernel_repo, resolve_base(kernel_repo, None), tmp_path / "wt"):
            pass
    assert (tmp_path / "wt" / "precious").exists()
    with pytest.raises(UserError, match="kernel tree itself"):
        with worktree(kernel_repo, resolve_base(kernel_repo, None), kernel_repo):
            pass


# -- applying -------------------------------------------------------------------------------


def run_apply(repo: Path, series: Series, tmp_path: Path) -> tuple[ApplyResult, list[str], str]:
    """Apply in a worktree; return the result, the commits base..head (oldest first) and the log text."""
    log = tmp_path / "out" / "apply.log"
    with worktree(repo, resolve_base(repo, series.base), tmp_path / "wt") as wt:
        res = apply_series(wt, series, log)
        commits = git(wt, "rev-list", "--reverse", f"{res.base}..{res.head}").split()
        subjects = git(wt, "log", "--format=%s|%an|%cn", f"{res.base}..{res.head}")
    return res, commits, subjects + log.read_text()


def first_failure(res: ApplyResult) -> PatchResult | None:
    return next((r for r in res.results if not r.ok), None)


def test_apply_mbox(kernel_repo: Path, tmp_path: Path) -> None:
    before = snapshot(kernel_repo)
    series = load_series(str(SERIES / "noise.mbox"), SERIES)
    res, commits, out = run_apply(kernel_repo, series, tmp_path)
    assert res.ok and first_failure(res) is None and res.skipped == ()
    assert res.base == series.base  # the fixtures' base-commit is the fake repo's HEAD
    assert [r.commit for r in res.results] == commits and res.head == commits[-1]
    assert [r.patch for r in res.results] == list(series.patches)
    assert "mm/gup: add pin_user_pages_fast()|Jane Pinner|pinbench" in out
    assert "Zoë Pinner" in out
    assert "pinbench: applying [3] 0003-Documentation-describe-fake-pinning" in out
    assert "Applying: Documentation: describe fake pinning" in out
    assert snapshot(kernel_repo) == before


@pytest.mark.parametrize("spec", ["cover-3.mbox", "v2.mbox", "quilt", "fp"])
def test_fixtures_apply(kernel_repo: Path, tmp_path: Path, spec: str) -> None:
    series = load_series(spec if "." not in spec else str(SERIES / spec), SERIES)
    res, commits, _ = run_apply(kernel_repo, series, tmp_path)
    assert res.ok, first_failure(res)
    assert len(commits) == len(series.patches)


def test_same_series_same_commit_ids(kernel_repo: Path, tmp_path: Path) -> None:
    series = load_series("quilt", SERIES)
    first, _, _ = run_apply(kernel_repo, series, tmp_path / "a")
    second, _, _ = run_apply(kernel_repo, series, tmp_path / "b")
    assert first.head == second.head


def test_empty_series(kernel_repo: Path, tmp_path: Path) -> None:
    empty = Series("baseline", tmp_path, (), None, (), (), (), "")
    res, commits, _ = run_apply(kernel_repo, empty, tmp_path)
    assert res.ok and res.results == () and res.head == res.base and commits == []


def test_conflict_names_patch_and_file(kernel_repo: Path, tmp_path: Path) -> None:
    mm_h = (kernel_repo / "include/linux/mm.h").read_text()
    commit_files(kernel_repo, {"include/linux/mm.h": mm_h.replace(
        "int nr);\n", "int nr);\nlong pin_user_pages_remote(int nr);\n")}, "mm: remote")
    before = snapshot(kernel_repo)
    series = load_series(str(SERIES / "cover-3.mbox"), SERIES)
    series = Series(**{**series.__dict__, "base": None})
    res, commits, out = run_apply(kernel_repo, series, tmp_path)
    assert not res.ok
    assert [r.ok for r in res.results] == [True, False]
    failure = first_failure(res)
    assert failure is not None and failure.patch.index == 2
    assert failure.patch.subject == "mm: declare pin_user_pages_fast()"
    assert failure.failed_files == ("include/linux/mm.h",) and failure.commit is None
    assert "Merge conflict in include/linux/mm.h" in failure.message
    assert res.skipped == (series.patches[2],)
    assert res.head == res.results[0].commit and commits == [res.head]
    assert "CONFLICT (content)" in out and "applying [3]" not in out
    assert snapshot(kernel_repo) == before


def quilt_series(tmp_path: Path, patches: dict[str, str]) -> Series:
    d = tmp_path / "q"
    d.mkdir()
    (d / "series").write_text("".join(f"{name}\n" for name in patches))
    for name, text in patches.items():
        (d / name).write_text(text)
    return load_series(str(d), tmp_path)


def test_no_3way_base_names_file(kernel_repo: Path, tmp_path: Path) -> None:
    # No index line: git cannot fall back to a 3-way merge ("sha1 information is lacking").
    bad = ("Fix it\n\n--- a/mm/gup.c\n+++ b/mm/gup.c\n@@ -1,2 +1,2 @@\n"
           "-#include <linux/nope.h>\n+#include <linux/yes.h>\n \n")
    ok = ("Ok\n\n--- a/Makefile\n+++ b/Makefile\n@@ -1,2 +1,2 @@\n"
          "-VERSION = 6\n+VERSION = 7\n PATCHLEVEL = 12\n")
    series = quilt_series(tmp_path, {"ok.patch": ok, "bad.patch": bad, "never.patch": ok})
    res, _, _ = run_apply(kernel_repo, series, tmp_path)
    assert [r.patch.name for r in res.results] == ["ok.patch", "bad.patch"]
    failure = first_failure(res)
    assert failure is not None
    assert failure.failed_files == ("mm/gup.c",)
    assert "patch failed: mm/gup.c:1" in failure.message
    assert [p.name for p in res.skipped] == ["never.patch"]


def test_missing_file_names_file(kernel_repo: Path, tmp_path: Path) -> None:
    gone = ("Gone\n\n--- a/mm/gone.c\n+++ b/mm/gone.c\n@@ -1,2 +1,2 @@\n-a\n+b\n c\n")
    res, _, _ = run_apply(kernel_repo, quilt_series(tmp_path, {"gone.patch": gone}), tmp_path)
    failure = first_failure(res)
    assert failure is not None
    assert failure.failed_files == ("mm/gone.c",)
    assert "mm/gone.c: does not exist in index" in failure.message


def test_deleted_file_conflict(kernel_repo: Path, tmp_path: Path) -> None:
    git(kernel_repo, "rm", "-q", "include/linux/mm.h")
    git(kernel_repo, "commit", "-q", "-m", "drop mm.h")
    series = load_series(str(SERIES / "cover-3.mbox"), SERIES)
    res, _, _ = run_apply(kernel_repo, Series(**{**series.__dict__, "base": None}), tmp_path)
    failure = first_failure(res)
    assert failure is not None and failure.patch.index == 2
    assert failure.failed_files == ("include/linux/mm.h",)


def test_crlf_survives_keep_cr(kernel_repo: Path, tmp_path: Path) -> None:
    commit_files(kernel_repo, {"dos.txt": "a\r\nb\r\n"}, "dos file")
    patch = ("Dos\n\n--- a/dos.txt\n+++ b/dos.txt\n@@ -1,2 +1,2 @@\n a\r\n-b\r\n+c\r\n")
    d = tmp_path / "q"
    d.mkdir()
    (d / "series").write_text("dos.patch\n")
    (d / "dos.patch").write_bytes(patch.encode())
    series = load_series(str(d), tmp_path)
    with worktree(kernel_repo, resolve_base(kernel_repo, None), tmp_path / "wt") as wt:
        assert apply_series(wt, series, tmp_path / "apply.log").ok
        assert (wt / "dos.txt").read_bytes() == b"a\r\nc\r\n"


@pytest.mark.parametrize("mail", [False, True])
def test_a_patch_saved_with_crlf_line_ends_applies_as_git_am_applies_it(kernel_repo: Path, tmp_path: Path,
                                                                      mail: bool) -> None:
    """Every line of it CRLF (saved on Windows, a mail client's download): git am and patch strip
    the CRs; with --keep-cr always it "did not apply", a false FAIL of the series."""
    patch = ("From: A <a@example.org>\nSubject: [PATCH] mm: x\n\n" if mail else "mm: x\n\n") + \
        "--- a/Makefile\n+++ b/Makefile\n@@ -1,2 +1,2 @@\n-VERSION = 6\n+VERSION = 7\n PATCHLEVEL = 12\n"
    d = tmp_path / "q"
    d.mkdir()
    (d / "series").write_text("crlf.patch\n")
    (d / "crlf.patch").write_bytes(patch.replace("\n", "\r\n").encode())
    series = load_series(str(d), tmp_path)
    with worktree(kernel_repo, resolve_base(kernel_repo, None), tmp_path / "wt") as wt:
        assert apply_series(wt, series, tmp_path / "apply.log").ok
        assert (wt / "Makefile").read_bytes().startswith(b"VERSION = 7\nPATCHLEVEL = 12\n")


def test_worktree_path_reusable_after_failure(kernel_repo: Path, tmp_path: Path) -> None:
    shutil.rmtree(tmp_path / "wt", ignore_errors=True)
    test_conflict_names_patch_and_file(kernel_repo, tmp_path)
    with worktree(kernel_repo, resolve_base(kernel_repo, None), tmp_path / "wt") as wt:
        assert git(wt, "status", "--porcelain") == ""


def test_headerless_utf8_subject(kernel_repo: Path, tmp_path: Path) -> None:
    patch = ("mm: fix Zoë's bug\n\nWhy: ünïcode.\n\n--- a/Makefile\n+++ b/Makefile\n"
             "@@ -1,2 +1,2 @@\n-VERSION = 6\n+VERSION = 7\n PATCHLEVEL = 12\n")
    res, _, out = run_apply(kernel_repo, quilt_series(tmp_path, {"u.patch": patch}), tmp_path)
    assert res.ok
    assert "mm: fix Zoë's bug|pinbench|pinbench" in out
