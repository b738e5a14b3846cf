"""The results folder: the name of every file and folder a run folder (results/<run_id>/) and
the drivers' folders around their sub-runs hold, each with who writes it and who reads it back.

Nobody else spells a results file name (tests/test_architecture.py checks it). The names on
disk never change here: the folders of older runs must still read.
"""

from __future__ import annotations

# A run's folder (bench/pipeline.py claims it). Writer -> readers.
SUMMARY = "summary.json"  # result.write_summary_json (a run, each driver) -> result.py, pages/facts.py, nightly/
JUNIT = "junit.xml"  # junit.py (a run, each driver) -> CI; nightly/report.py merges the runs' into the night's
REPORT = "report.txt"  # pages/mail.py (via pages/run_files.py) -> people, the mail to the list
INDEX = "index.html"  # pages/run_page.py (a run), nightly/report.py (a night) -> people; the pages link it
REPRODUCER = "reproducer.sh"  # pages/reproducer.py -> people re-running the run by hand
CONSOLE = "console.log"  # pipeline's boot stage (vm.boot) -> the scan stage, pages, nightly/kcidb.py links
APPLY_LOG = "apply.log"  # pipeline's apply stage (git am) -> people, nightly/kcidb.py links
CONFIG_LOG = "config.log"  # pipeline's config stage (kconfig.configure) -> the config case's output
BUILD_LOG = "build.log"  # pipeline's build stage (build.make) -> build case, each/run.py, pages/reproducer.py
PROBE_LOG = "build-next.log"  # pipeline's --each probe: the next patch's objects compiled -> each/run.py
CRASH_LOG = "crash.log"  # pipeline: the traceback of a bench bug -> people
KVM_PROBE_LOG = "kvm-probe.log"  # vm.choose_accel: the KVM probe boot's console -> people
KCONFIG = ".config"  # pipeline's config stage (a copy) -> pages/facts.py, pages/reproducer.py, leaks.py, kcidb
REPORTS = "reports.json"  # pipeline's scan stage -> pages/facts.py, bisect/bisection.py
COVERAGE = "coverage.json"  # coverage/stage.py: each changed line's status -> coverage/page.py (the run page)
COVERAGE_COUNTS = "coverage-counts.json"  # coverage/stage.py: hits per profiled line -> prove.py (coverage/reach.py), stage.COUNTS

# Folders inside a run's folder.
GUEST = "guest"  # the guest's results folder (vng --rwdir): pipeline writes its plan, guests/runner.sh the rest
GUESTS = "guests"  # pages/reproducer.py: a copy of the workload scripts -> reproducer.sh
PATCHES = "patches"  # pages/reproducer.py: a copy of the series -> reproducer.sh (a night's: nightly/night.py)
BASELINE = "baseline"  # pipeline's --baseline stage: the unpatched tree's own run folder inside the run's

# Files in GUEST (per workload, guests/runner.sh also writes NAME.log, NAME.rc, NAME.tainted.*, ...).
GUEST_PLAN = "plan.tsv"  # pipeline (guests.plan_text) -> guests/runner.sh, pages/reproducer.py
GUEST_ENV = "env"  # pipeline (source and build paths) -> guests/runner.sh
TAINTED_START = "tainted.start"  # guests/runner.sh: taint flags at guest start -> oracles.py, rates.py
TAINTED_END = "tainted.end"  # guests/runner.sh: taint flags at guest end -> oracles.py
VMSTAT = "vmstat"  # guests/runner.sh: VMSTAT.start, VMSTAT.end (/proc/vmstat) -> oracles.py, pins.py
CMDLINE = "cmdline"  # guests/pages.sh: /proc/cmdline -> leaks.py
PAGE_OWNER_STATE = "page_owner.state"  # guests/pages.sh: page_owner present or missing -> leaks.py

# A repeat's folder (run --repeat): its runs, SUMMARY, JUNIT and
RATES = "rates.txt"  # repeat.py: fail:runs per case -> people
# --each's folder: a run folder per prefix, SUMMARY, JUNIT and
EACH_TABLE = "each.txt"  # each/export.py: the table of prefixes -> people
# A bisect's folder: a run folder per step, SUMMARY, JUNIT and
BISECT_LOG = "bisect.log"  # bisect/journal.py: a line per step -> people
BISECT_STEPS = "steps.jsonl"  # bisect/journal.py: a step per line -> bisect/journal.py (later steps, range mode)
REQUEST = "request.json"  # bisect/range.py (plan.write_request) -> bisect-step (plan.read_request)
GIT_BISECT_LOG = "git-bisect.log"  # bisect/range.py: git bisect's output -> people
GIT_BISECT_REPLAY = "git-bisect-log.txt"  # bisect/range.py: `git bisect log` -> people (git bisect replay)
# A night's folder: a run folder per entry, JUNIT, INDEX, PATCHES and
NIGHT = "night.json"  # nightly/night.py -> nightly/night_file.py (history, merge, pictures, report)
NIGHT_SUMMARY = "summary.md"  # nightly/report.py: the night in Markdown -> people, CI job summaries
KCIDB = "kcidb.json"  # nightly/kcidb.py: KCIDB v5.3 -> a KCIDB submitter
