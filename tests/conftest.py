"""The one test world: a tiny deterministic fake kernel git repo, a project home, the fake vng."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).parent
HOME = TESTS.parent
BOOTS = TESTS / "data" / "boots"

DATA = Path(__file__).parent / "data"
GUEST_LOGS = DATA / "guest"  # recorded guest workload logs (their README says where each came from)


def recorded_cells(log: str) -> dict[str, Any]:
    """The cells of a recorded pin-matrix log by name (bench.run.subcases' reading of it)."""
    from bench.run import subcases
    return {s.name: s for s in subcases.parse((GUEST_LOGS / log).read_text().splitlines())}


def listed_cells(header: str, lists: str, table: str) -> set[str]:
    """The cells a guests/src/*_cells.h table lists: each entry {"<prefix>", run, <list>, N(...)}
    is the prefix with every name of its list. lists: the name prefix of the name arrays
    (`hl_`), table: a regex of the entries' prefixes (`holes/[\\w-]+/`)."""
    text = (HOME / "guests" / "src" / header).read_text()
    names = {name: re.findall(r'"([\w-]+)"', body) for name, body in
             re.findall(rf"static const char \*const ({lists}\w+)\[\w*\] = \{{([^}}]*)\}};", text)}
    entries = re.findall(rf'\{{"({table})", \w+, ({lists}\w+), \w+_N\(', text)
    return {prefix + name for prefix, listed in entries for name in names[listed]}

# A WARNING in the real format (a kernel report dropped into a recorded boot by World.boot_with).
WARNING = """[   10.000000] ------------[ cut here ]------------
[   10.000001] WARNING: CPU: 1 PID: 123 at mm/gup.c:100 unpin_user_pages+0x10/0x20
[   10.000002] Modules linked in:
[   10.000003] CPU: 1 PID: 123 Comm: python3 Not tainted 6.12.0 #1
[   10.000004] RIP: 0010:unpin_user_pages+0x10/0x20
[   10.000005] Call Trace:
[   10.000006]  <TASK>
[   10.000007]  unpin_user_pages+0x10/0x20
[   10.000008]  ib_umem_release+0x30/0x80
[   10.000009]  </TASK>
[   10.000010] ---[ end trace 0000000000000000 ]---
"""


class Links(HTMLParser):
    """Every <a href> of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v for k, v in attrs if tag == "a" and k == "href" and v]


@pytest.fixture(autouse=True)
def _timeouts_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workload timeouts as their YAML says, whatever the load of the machine running the tests
    (plan.timeout_scale would scale them by it)."""
    monkeypatch.setenv("BENCH_TIMEOUT_SCALE", "1")


def ended(lines: list[str], name: str, rc: int) -> list[str]:
    """A recorded console with NAME's end marker saying exit RC, as the runner writes it along
    with NAME.rc (verdict checks that the two agree)."""
    return [re.sub(rf"pinbench: workload {re.escape(name)} end rc=\d+", f"pinbench: workload {name} end rc={rc}", ln)
            for ln in lines]


def gone(pattern: str, within: float = 5.0) -> bool:
    """No process matches `pgrep -f pattern` by `within` seconds: a process killed a moment ago
    can take a while to go on a loaded machine, and that is not a leftover. The sleeps the
    tests look for last 30 s or more, so a real leftover is still there after the wait."""
    deadline = time.monotonic() + within
    while subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode != 1:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def hrefs(page: Path) -> list[str]:
    parser = Links()
    parser.feed(page.read_text())
    return parser.hrefs


# Fixed identity and dates: the same files give the same commit ids on every machine, so
# the committed mbox fixtures' base-commit: matches a freshly made repo.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Fake Dev", "GIT_AUTHOR_EMAIL": "dev@example.org",
    "GIT_COMMITTER_NAME": "Fake Dev", "GIT_COMMITTER_EMAIL": "dev@example.org",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+0000",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}

FAKE_KERNEL = {
    "Makefile": "VERSION = 6\nPATCHLEVEL = 12\n\nall:\n\t@echo fake kernel\n",
    "include/linux/mm.h": "#ifndef _LINUX_MM_H\n#define _LINUX_MM_H\n\n"
                          "long pin_user_pages(unsigned long start, int nr);\n\n#endif\n",
    "mm/gup.c": "#include <linux/mm.h>\n\n"
                "long pin_user_pages(unsigned long start, int nr)\n{\n\treturn nr;\n}\n",
}


def git(repo: Path, *args: str) -> str:
    """Run git in repo with the fixed test identity; return stdout."""
    cp = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                        env={**os.environ, **GIT_ENV})
    if cp.returncode:
        raise AssertionError(f"git {' '.join(args)} failed: {cp.stderr}")
    return cp.stdout


def commit_files(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def make_kernel_repo(path: Path) -> Path:
    """A 2-commit "kernel": Makefile, include/linux/mm.h, mm/gup.c; branch master."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "master")
    commit_files(path, FAKE_KERNEL, "Initial fake kernel")
    gup = FAKE_KERNEL["mm/gup.c"] + "\nvoid unpin_user_page(void *page)\n{\n}\n"
    commit_files(path, {"mm/gup.c": gup}, "mm/gup: add unpin_user_page()")
    return path


@pytest.fixture
def kernel_repo(tmp_path: Path) -> Path:
    return make_kernel_repo(tmp_path / "linux")


FAKE_VARS = ("FAKE_VNG_CONSOLE", "FAKE_VNG_GUEST", "FAKE_VNG_SLEEP", "FAKE_VNG_RC", "FAKE_VNG_MAP",
             "FAKE_VNG_RULES", "FAKE_VNG_DEFAULT", "FAKE_VNG_FLAKY", "FAKE_VNG_COUNT", "FAKE_VNG_BOOTS",
             "FAKE_VNG_SERIES", "FAKE_VNG_ARGV", "FAKE_QEMU_END", "FAIL", "FAKE_KCONFIG_DROP", "BENCH_TARBALL")


class World:
    """The world at its edges, faked: a kernel tree whose kbuild is tests/fakelinux (make and
    merge_config.sh), a project home (kconfigs/ and guests/ of this checkout, patches/ empty),
    tests/bin/vng first on PATH (it replays real recorded boots), and the bench's environment
    pointing at all of it."""

    def __init__(self, root: Path, mp: pytest.MonkeyPatch) -> None:
        self.root = self.tmp = root
        self.mp = mp
        self.tree = make_kernel_repo(root / "linux")
        fake = TESTS / "fakelinux"
        commit_files(self.tree, {"Makefile": (fake / "Makefile").read_text(),
                                 "scripts/kconfig/merge_config.sh":
                                     (fake / "scripts/kconfig/merge_config.sh").read_text(),
                                 "mm/rmap.c": "/* rmap */\n"}, "fake kbuild")
        self.home = root / "home"
        for part in ("kconfigs", "guests"):
            shutil.copytree(HOME / part, self.home / part)
        (self.home / "patches").mkdir()
        self.results = root / "results"
        self.cache = root / "cache"
        mp.setenv("PATH", f"{TESTS / 'bin'}:{os.environ['PATH']}")
        mp.setenv("BENCH_HOME", str(self.home))
        mp.setenv("BENCH_TREE", str(self.tree))
        mp.setenv("BENCH_CACHE", str(self.cache))
        mp.setenv("CCACHE_DIR", str(root / "ccache"))
        mp.setenv("BENCH_PREFLIGHT", "0")  # a fake world: no QEMU or rdma tools needed (test_doctor checks it)
        for var in FAKE_VARS:
            mp.delenv(var, raising=False)

    def series(self, name: str, meta: str, quilt: bool = True) -> Path:
        """home/patches/<name>: the two-patch quilt series of tests/data (or none), with series.yaml."""
        folder = self.home / "patches" / name
        if quilt:
            shutil.copytree(TESTS / "data" / "series" / "quilt", folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "series.yaml").write_text(meta)
        return folder

    def bug(self, name: str, marker: str, catch: str, workloads: str = "[rxe, gup-test, pin-balance]") -> Path:
        """home/patches/bugs/<name>: a one-patch catalogue bug whose patch puts `marker` into
        mm/gup.c (the fake vng's FAKE_VNG_RULES pick a boot by such markers)."""
        git(self.tree, "checkout", "-q", "-b", name)
        commit_files(self.tree, {"mm/gup.c": (self.tree / "mm/gup.c").read_text() + f"/* {marker} */\n"},
                     f"mm/gup: {name}")
        folder = self.home / "patches" / "bugs" / name
        git(self.tree, "format-patch", "-q", "-o", str(folder), f"master..{name}")
        (folder / "series.yaml").write_text(f"description: {name}\nworkloads: {workloads}\n"
                                            f"fixes: '0123456789ab (\"mm/gup: fix\")'\ncatch: {catch}\n")
        git(self.tree, "checkout", "-q", "master")
        return folder

    def replay(self, boot: str | Path, rc: int = 0) -> None:
        """Every boot replays tests/data/boots/<boot> (or a boot folder) and exits rc."""
        folder = boot if isinstance(boot, Path) else BOOTS / boot
        self.mp.setenv("FAKE_VNG_CONSOLE", str(folder / "console.log"))
        self.mp.setenv("FAKE_VNG_GUEST", str(folder / "guest"))
        self.mp.setenv("FAKE_VNG_RC", str(rc))

    def stop_run(self, n: int, stop: BaseException) -> None:
        """pipeline.run raises `stop` on its n-th call, after the n-1 before it ran for real: a
        driver's sweep stopped by a Ctrl-C (KeyboardInterrupt) or the machine (InfraError)."""
        from bench.run import pipeline
        real, calls = pipeline.run, []

        def run(plan: Any, printer: Any) -> Any:
            calls.append(plan.run_id)
            if len(calls) == n:
                raise stop
            return real(plan, printer)
        self.mp.setattr(pipeline, "run", run)

    def boot_with(self, name: str, text: str, after: str) -> Path:
        """A copy of the baseline-tcg boot with `text` put into its console after the first
        line containing `after` (a real report dropped into a real boot)."""
        dest = self.root / "boots" / name
        shutil.copytree(BOOTS / "baseline-tcg", dest)
        lines = (BOOTS / "baseline-tcg" / "console.log").read_text().splitlines(keepends=True)
        at = next(i for i, line in enumerate(lines) if after in line) + 1
        (dest / "console.log").write_text("".join(lines[:at]) + text + "".join(lines[at:]))
        return dest


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return World(tmp_path, monkeypatch)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="also run the tests marked slow (many Hypothesis examples)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked slow run only with --slow: plain `python3 -m pytest` (CI) stays within its budget."""
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: many Hypothesis examples; run with pytest --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
