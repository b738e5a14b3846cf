"""The results folder: the name of every file and folder a run folder (results/<run_id>/) and
the drivers' folders around their sub-runs hold, each with who writes it and who reads it back.

Nobody else spells a results file name (tests/test_architecture.py checks it). The names on
disk never change here: the folders of older runs must still read.

It also names every run and sub-run folder, with one rule for free text (safe_name), and mints
and claims the top folders (new_folder); a run's own folder is claimed by pipeline.run
(plan.claim_run), a driver's by bench/run/sweep.py, which puts the sub-runs in it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from bench.base.errors import InfraError, UserError

# A run's folder (bench/run/pipeline.py claims it). Writer -> readers.
SUMMARY = "summary.json"  # result.write_summary_json (a run, each driver) -> result.py, pages/facts.py, nightly/
JUNIT = "junit.xml"  # junit.py (a run, each driver) -> CI; nightly/night_pages.py merges the runs' into the night's
REPORT = "report.txt"  # pages/mail.py (via pages/run_files.py) -> people, the mail to the list
INDEX = "index.html"  # pages/run_page.py (a run), nightly/night_pages.py (a night) -> people; the pages link it
REPRODUCER = "reproducer.sh"  # pages/reproducer.py -> people re-running the run by hand
CONSOLE = "console.log"  # pipeline's boot stage (vm.boot) -> the scan stage, pages, nightly/kcidb.py links
APPLY_LOG = "apply.log"  # pipeline's apply stage (git am) -> people, nightly/kcidb.py links
CONFIG_LOG = "config.log"  # pipeline's config stage (kconfig.configure) -> the config case's output
BUILD_LOG = "build.log"  # pipeline's build stage (build.make) -> build case, each/walk.py, pages/reproducer.py
PROBE_LOG = "build-next.log"  # pipeline's --each probe: the next patch's objects compiled -> each/walk.py
CRASH_LOG = "crash.log"  # pipeline: the traceback of a bench bug -> people
KVM_PROBE_LOG = "kvm-probe.log"  # vm.choose_accel: the KVM probe boot's console -> people
KCONFIG = ".config"  # pipeline's config stage (a copy) -> pages/facts.py, pages/reproducer.py, leaks.py, kcidb
REPORTS = "reports.json"  # pipeline's scan stage -> pages/facts.py, bisect/bisection.py
COVERAGE = "coverage.json"  # coverage/stage.py: each changed line's status -> coverage/page.py (the run page)
COVERAGE_COUNTS = "coverage-counts.json"  # coverage/stage.py: hits per profiled line -> prove.py (stage.COUNTS)

# Folders inside a run's folder.
GUEST = "guest"  # the guest's results folder (vng --rwdir): pipeline writes its plan, guests/runner.sh the rest
GUESTS = "guests"  # pages/reproducer.py: a copy of the workload scripts -> reproducer.sh
PATCHES = "patches"  # pages/reproducer.py: a copy of the series -> reproducer.sh (a night's: nightly/night.py)
BASELINE = "baseline"  # pipeline's --baseline stage: the unpatched tree's own run folder inside the run's

# Files in GUEST.
GUEST_PLAN = "plan.tsv"  # pipeline (guests.plan_text) -> guests/runner.sh, pages/reproducer.py
GUEST_ENV = "env"  # pipeline (source and build paths) -> guests/runner.sh
TAINTED_START = "tainted.start"  # guests/runner.sh: taint flags at guest start -> oracles.py, rates.py
TAINTED_END = "tainted.end"  # guests/runner.sh: taint flags at guest end -> oracles.py
VMSTAT = "vmstat"  # guests/runner.sh: VMSTAT.start, VMSTAT.end (/proc/vmstat) -> oracles.py, pins.py
CMDLINE = "cmdline"  # guests/pages.sh: /proc/cmdline -> leaks.py
PAGE_OWNER_STATE = "page_owner.state"  # guests/pages.sh: page_owner present or missing -> leaks.py

# A workload's own files in GUEST: NAME.KIND (of_workload), and NAME.TAINTED_START|END, NAME.VMSTAT.*
LOG = "log"  # guests/runner.sh: its output -> cases.py (its case, subcases), leaks.py appends, nightly/kcidb.py
RC = "rc"  # guests/runner.sh: "EXIT START END" -> cases.py
PIDS = "pids"  # guests/pages.sh: the pid window of its processes -> leaks.py
MEMINFO = "meminfo"  # guests/pages.sh: MEMINFO.start, MEMINFO.end (/proc/meminfo) -> leaks.py
PAGE_OWNER = "page_owner"  # guests/pages.sh: the page_owner records of its pids -> leaks.py
ALIVE = "alive"  # guests/pages.sh: its pids still running at the reading -> leaks.py
MAPCOUNT = "mapcount"  # guests/pages.sh: the map counts of the pages looked up -> leaks.py
COMPACTION = "compaction"  # guests/pages.sh: why the compaction after it was stopped (absent: it finished) -> leaks.py

# A repeat's folder (run --repeat): its runs, SUMMARY, JUNIT and
RATES = "rates.txt"  # repeat.py: fail:runs per case -> people
# --each's folder: a run folder per prefix, SUMMARY, JUNIT and
EACH_TABLE = "each.txt"  # each/export.py: the table of prefixes -> people
# A bisect's folder: a run folder per step, SUMMARY, JUNIT and
BISECT_LOG = "bisect.log"  # bisect/journal.py: a line per step -> people
BISECT_STEPS = "steps.jsonl"  # bisect/journal.py: a step per line -> bisect/journal.py (later steps, range mode)
REQUEST = "request.json"  # plan.write_request -> plan.read_request: bisect-step, nightly --parallel shards, prove --resume
PROVE = "prove.json"  # drivers/prove/state.py write (what a proof started with) -> read: bench prove --resume
GIT_BISECT_LOG = "git-bisect.log"  # bisect/range.py: git bisect's output -> people
GIT_BISECT_REPLAY = "git-bisect-log.txt"  # bisect/range.py: `git bisect log` -> people (git bisect replay)
# A night's folder: a run folder per entry, JUNIT, INDEX, PATCHES and
NIGHT = "night.json"  # nightly/night_file.py writes and reads it (history, merge, pictures, report)
NIGHT_SUMMARY = "summary.md"  # nightly/night_pages.py: the night in Markdown -> people, CI job summaries
KCIDB = "kcidb.json"  # nightly/kcidb.py: KCIDB v5.3 -> a KCIDB submitter


def of_workload(name: str, kind: str) -> str:
    """A workload's own file in GUEST: NAME.KIND (NAME.log, NAME.tainted.end, NAME.vmstat...)."""
    return f"{name}.{kind}"


NAME_BYTES = 120  # of free text in a folder name: a file name is at most 255 bytes (NAME_MAX)


def safe_name(text: str) -> str:
    """The one rule for a folder name made of free text (a series, a bug, a bisect step's label,
    a matrix entry): each run of characters other than letters, digits, '.', '_' and '-' becomes
    '-', cut to NAME_BYTES (a 250-character series name made a name over NAME_MAX), no '-', '_'
    or '.' at either end ('..' names no folder); "unnamed" when nothing is left."""
    cut = re.sub(r"[^\w.-]+", "-", text).encode()[:NAME_BYTES].decode("utf-8", "ignore")
    return cut.strip("-_.") or "unnamed"


def sub_name(text: str, seq: int | None = None, cut: int = NAME_BYTES) -> str:
    """A sub-run's folder name in its driver's folder: `NN-TEXT` with a sequence number (prove's
    00-control and 01-BUG, --each's 00-base and 03-PATCH, a bisect's 03-4of6), else TEXT (a
    night's entry); TEXT is safe_name(text), cut to `cut` characters."""
    name = safe_name(text)[:cut]
    return name if seq is None else f"{seq:02d}-{name}"


def again(name: str, k: int) -> str:
    """The k-th run of a repeated run: NAME-rK (a bisect step's, a prove bug's), rK for "" (a
    repeat's own runs)."""
    return f"{name}-r{k}" if name else f"r{k}"


def new_name(root: Path, label: str = "") -> str:
    """`<YYYYmmdd-HHMMSS>[-<label>]`, with -2, -3... while that exists under root.

    The one namer of run, bisect, --each, prove and night folders. It only looks: a run claims
    its folder with claim() (mkdir), which moves on to the next suffix when another run was faster.
    """
    base = time.strftime("%Y%m%d-%H%M%S") + (f"-{safe_name(label)}" if label else "")
    name, n = base, 1
    while (root / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def claim(root: Path, name: str, retry: bool = True) -> str:
    """Create root/name, or with retry the first free of name-2, name-3...; the name taken.

    mkdir is the test and the claim in one step: two runs started in the same second (same
    minted name) cannot both get a folder. Without retry an existing folder is a UserError.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InfraError(f"{root}: cannot create the results folder: {e.strerror}") from e
    for n in range(1, 1000):
        taken = name if n == 1 else f"{name}-{n}"
        try:
            (root / taken).mkdir()
            return taken
        except FileExistsError:
            if not retry:
                raise UserError(f"{root / name}: exists already (a run id must be new)") from None
        except OSError as e:
            raise InfraError(f"{root / taken}: cannot create the run's folder: {e.strerror}") from e
    raise InfraError(f"{root}: no free folder name for {name}")


def set_aside(root: Path, name: str) -> str | None:
    """Rename root/name to the first free NAME.stopped, NAME.stopped-2...; the new name, None
    when there is no such folder. A resumed sweep runs a stopped sub-run again under its own
    name and keeps what the stopped one wrote beside it: nothing is deleted."""
    if not (root / name).exists():
        return None
    for n in range(1, 1000):
        aside = f"{name}.stopped" if n == 1 else f"{name}.stopped-{n}"
        if (root / aside).exists():
            continue
        try:
            (root / name).rename(root / aside)
            return aside
        except OSError as e:
            raise InfraError(f"{root / name}: cannot set the stopped run aside: {e.strerror}") from e
    raise InfraError(f"{root}: no free name to set {name} aside")


def new_folder(root: Path, label: str = "") -> str:
    """A new folder `<YYYYmmdd-HHMMSS>[-<label>]` under root, minted and claimed; its name."""
    return claim(root, new_name(root, label))
