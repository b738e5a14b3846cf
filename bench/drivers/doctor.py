"""The preflight: is this machine able to do what was asked, before anything is built?

Checks come from scripts/requirements-debian.txt (the same list scripts/setup-debian.sh installs
from): host commands and files by the stage or workload that needs them (a workload also
takes the lines of every workload that runs its script), then free disk for the work slots and
results, the Python packages, and the state of /dev/kvm. What is missing is named with the
package that provides it, in seconds; a run then stops as an infrastructure error (exit 2),
never as a failure of the series.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.base import proc
from bench.base.errors import InfraError, UserError
from bench.run import guests
from bench.run.vm import find_vng

REQUIREMENTS = Path("scripts") / "requirements-debian.txt"
GUESTS = Path("guests")
KINDS = ("cmd", "file", "tarball", "cc")
STAGES = ("tree", "build", "boot")
PYTHON = (("pexpect", "pexpect"), ("yaml", "pyyaml"), ("junit_xml", "junit-xml"), ("kcidb_io", "kcidb-io"))
SLOT_GB = 6  # a work slot: a 1.7 GB worktree and a build dir of 1-3 GB
RESULTS_MB = 200


@dataclass(frozen=True)
class Requirement:
    package: str  # the Debian package that provides it
    kind: str  # cmd | file | tarball | cc (gcc compiles and links with the flags in `what`)
    what: str
    needed: str  # tree | build | boot | workload:NAME
    line: int


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # what was found, or what to do
    fatal: bool = True  # False: said, but does not stop a run (no KVM)


def read_requirements(path: Path) -> tuple[Requirement, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read the requirements list: {e}") from e
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 4 or words[1] not in KINDS or not (words[3] in STAGES or words[3].startswith("workload:")):
            raise UserError(f"{path}:{n}: want 'package kind what needed' (kind {'/'.join(KINDS)}, "
                            f"needed {'/'.join(STAGES)}/workload:NAME): {line.strip()!r}")
        out.append(Requirement(words[0], words[1], words[2], words[3], n))
    return tuple(out)


def packages(reqs: Iterable[Requirement]) -> list[str]:
    """What setup-debian.sh installs: every package of the list, once, in order."""
    return list(dict.fromkeys(r.package for r in reqs))


def selected(reqs: Iterable[Requirement], stages: Iterable[str], workloads: Iterable[str]) -> list[Requirement]:
    wanted = set(stages) | {f"workload:{w}" for w in workloads}
    return [r for r in reqs if r.needed in wanted]


def with_kin(names: Iterable[str], guests_dir: Path) -> list[str]:
    """The workloads named (sets expanded), and with each every workload that runs the same
    script: requirements follow the script, so gup-test-deep (gup-test.sh) needs gup-test's
    lines, and a new variant of a workload needs no lines of its own."""
    names = guests.expand(list(names), guests_dir)
    scripts = {}
    for name in guests.available(guests_dir):
        try:
            scripts[name] = guests.load(guests_dir / f"{name}.yaml").script
        except UserError:
            continue  # a broken yaml is the plan's to report, not the preflight's
    run = {scripts[n] for n in names if n in scripts}
    return list(dict.fromkeys([*names, *(n for n, script in scripts.items() if script in run)]))


CC_PROBE = "#include <stdio.h>\nint main(void) { return printf(\"%zu\\n\", sizeof(long)) < 0; }\n"


def compiles(flags: str) -> bool:
    """gcc FLAGS builds a C program that uses libc: the compiler, its crt files and the libc of
    that target are all there (gcc -m32 without gcc-multilib finds no Scrt1.o)."""
    if not shutil.which("gcc"):
        return False
    with tempfile.TemporaryDirectory(prefix="pinbench-doctor-") as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text(CC_PROBE)
        try:
            proc.output(["gcc", *flags.split(), str(src), "-o", str(Path(tmp) / "probe")])
        except InfraError:
            return False
    return True


def present(req: Requirement) -> bool:
    if req.kind == "cc":
        return compiles(req.what)
    if req.kind == "cmd":
        return shutil.which(req.what) is not None
    if req.kind == "tarball":
        return bool(glob.glob(req.what))
    return Path(req.what).exists()


def check_requirements(reqs: Iterable[Requirement], skip_tree: bool = False) -> list[Check]:
    """One Check per requirement (a tree given with --tree needs no tarball)."""
    checks = []
    for r in reqs:
        if r.kind == "tarball" and skip_tree:
            continue
        ok = present(r)
        if r.kind == "cc":  # not fatal: what needs it skips, saying so
            checks.append(Check(f"{r.needed}: gcc {r.what}", ok, f"gcc {r.what} builds ({r.package})" if ok else
                                f"gcc {r.what} cannot build a program: apt-get install {r.package} (until then "
                                f"the {r.needed} cells that need it SKIP)", fatal=False))
            continue
        found = shutil.which(r.what) if r.kind == "cmd" else r.what
        detail = f"{found} ({r.package})" if ok else f"missing {r.what}: apt-get install {r.package}"
        checks.append(Check(f"{r.needed}: {r.what}", ok, detail))
    return checks


def check_vng() -> Check:
    try:
        return Check("boot: vng", True, find_vng())
    except InfraError as e:
        return Check("boot: vng", False, f"{e} (scripts/setup-debian.sh does)")


def check_python() -> list[Check]:
    return [Check(f"python: {module}", importlib.util.find_spec(module) is not None,
                  package if importlib.util.find_spec(module) else f"missing {module}: pip install {package}")
            for module, package in PYTHON]


def major(version_text: str) -> str:
    """The major version in `gcc -dumpversion` (12) or `gcov --version` ("gcov (Debian 12.2.0-14) 12.2.0")."""
    m = re.search(r"(\d+)(?:\.\d+)*\s*$", version_text.strip().splitlines()[0] if version_text.strip() else "")
    return m.group(1) if m else ""


def check_gcov() -> Check:
    """Coverage reads the build's .gcno/.gcda with gcov: it must be the compiler's major version."""
    try:
        cc, cov = major(proc.output(["gcc", "-dumpversion"])), major(proc.output(["gcov", "--version"]))
    except InfraError as e:
        return Check("build: gcov version", False, f"{e}: coverage is not measured", fatal=False)
    ok = bool(cc) and cc == cov
    return Check("build: gcov version", ok, f"gcov {cov}, gcc {cc}" + ("" if ok else
                 f": coverage needs gcov-{cc} (apt-get install gcc-{cc}); runs measure none"), fatal=False)


def free_gb(path: Path) -> float:
    while not path.exists():
        path = path.parent
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize / 1e9


def unusable(folder: Path) -> str:
    """Why a run could not make or write `folder` ("" when it could): a file on its path, or its
    nearest existing folder not writable (a read-only filesystem). The free space alone said
    "ok" to a --results that was a file, and every run then failed at its start."""
    path = folder
    while not path.exists() and path != path.parent:
        path = path.parent
    if not path.is_dir():
        return f"{path} is not a folder"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"{path} is not writable"
    return ""


def check_disk(cache: Path, results: Path) -> list[Check]:
    if bad := [Check(f"disk: {folder}", False, why) for folder in (cache, results) if (why := unusable(folder))]:
        return bad
    cache_gb, results_mb = free_gb(cache), free_gb(results) * 1000
    return [
        Check(f"disk: {cache}", cache_gb >= SLOT_GB,
              f"{cache_gb:.1f} GB free" + ("" if cache_gb >= SLOT_GB else
                                            f": a work slot needs {SLOT_GB} GB (bench gc frees old ones)")),
        Check(f"disk: {results}", results_mb >= RESULTS_MB,
              f"{results_mb:.0f} MB free" + ("" if results_mb >= RESULTS_MB else f": a run needs {RESULTS_MB} MB")),
    ]


def check_kvm() -> Check:
    if not os.path.exists("/dev/kvm"):
        return Check("boot: /dev/kvm", False, "absent: guests run under TCG (slow)", fatal=False)
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return Check("boot: /dev/kvm", False, "not accessible: guests run under TCG (slow)", fatal=False)
    return Check("boot: /dev/kvm", True, "present; a probe boot decides whether KVM really works")


def preflight(home: Path, cache: Path, results: Path, workloads: Iterable[str],
              stages: Iterable[str] = STAGES, tree_given: bool = False) -> list[Check]:
    """Every check a run of these workloads needs (see the module doc)."""
    path, gdir = home / REQUIREMENTS, home / GUESTS
    if not path.is_file():
        path = Path(__file__).resolve().parents[2] / REQUIREMENTS
    if not gdir.is_dir():
        gdir = Path(__file__).resolve().parents[2] / GUESTS
    reqs = selected(read_requirements(path), stages, with_kin(workloads, gdir))
    checks = check_python() + check_requirements(reqs, skip_tree=tree_given)
    if "build" in stages and shutil.which("gcov") and shutil.which("gcc"):
        checks.append(check_gcov())
    if "boot" in stages:
        checks += [check_vng(), check_kvm()]
    return checks + check_disk(cache, results)


def missing(checks: Iterable[Check]) -> list[Check]:
    return [c for c in checks if c.fatal and not c.ok]


def summary(problems: list[Check]) -> str:
    """One line: everything missing, with the packages to install."""
    return "preflight: " + "; ".join(c.detail for c in problems)


def require(home: Path, cache: Path, results: Path, workloads: Iterable[str], tree_given: bool) -> None:
    """The preflight of a command that runs kernels: InfraError naming all that is missing."""
    if problems := missing(preflight(home, cache, results, workloads, tree_given=tree_given)):
        raise InfraError(summary(problems))
