"""reproducer.sh: the run again on another machine that has the kernel tree (after tuxrun's).

Next to the script in the results folder: patches/ (the series as given to `git am`, checked
by sha256), .config (the run's, checked by sha256), guests/ (the runner and workload scripts
as run). The script clones the tree at the base commit (or at a commit with the same content:
two machines that unpack the same tarball make different commits of one tree), applies the
patches as the bench does (same identity and committer date, so the same tree comes out,
which it checks), puts the .config in an out-of-tree build dir, runs `make olddefconfig` and
checks the hash again (another compiler makes another .config: the script stops there), runs
the run's make command, writes the run's workload plan and boots with the run's vng command
under the run's VM timeout. It stops where the run stopped (a patch that did not apply, a
build that failed), saying whether that happened again. Exit: 0 the workloads passed, 1
something failed that a series can fail, 2 this machine cannot reproduce the run.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.base import files, formats, proc, rundir
from bench.base.errors import InfraError
from bench.base.files import copy_tree, write_atomic
from bench.base.limits import LIMITS
from bench.run import build as build_mod, tree
from bench.run.plan import Plan
from bench.run.result import RunResult
from bench.run.series import Patch, Series
from bench.run.slot import sha256_of

IMAGE = "${BUILD}/" + build_mod.IMAGE.as_posix()


def patch_file_name(p: Patch) -> str:
    """NNNN-<name>: `sha256sum *` and `git am *` see them in series order; the name cut to
    NAME_BYTES, its suffix kept (a 252-character patch name plus NNNN- was over NAME_MAX)."""
    # control characters made "_": a newline in a name (a folder's *.patch file may hold one) ended
    # reproducer.sh's `sha256sum -c <<'SUMS'` list early, and the name's next line ran as a command
    rest = re.sub(r"[\x00-\x1f\x7f]", "_", re.sub(r"^\d+-", "", Path(p.name).name))
    if len(rest.encode()) > rundir.NAME_BYTES:
        suffix = Path(rest).suffix[:16]
        rest = rest.encode()[:rundir.NAME_BYTES - len(suffix.encode())].decode("utf-8", "ignore") + suffix
    return f"{p.index:04d}-{rest}"


def copy_patches(series: Series, folder: Path) -> list[tuple[str, str]]:
    """Each patch as given to git am into folder; (file name, sha256) in order."""
    out = []
    for p in series.patches:
        folder.mkdir(parents=True, exist_ok=True)
        name = patch_file_name(p)
        write_atomic(folder / name, p.text)
        out.append((name, sha256_of(folder / name)))
    return out


def dq(text: str, subs: Sequence[tuple[str, str]] = ()) -> str:
    """text as one double-quoted shell word, each literal of subs replaced by its shell
    expression (e.g. the run's build dir by ${BUILD})."""
    subs = sorted(subs, key=lambda s: -len(s[0]))
    if not any(lit and lit in text for lit, _ in subs) and shlex.quote(text) == text:
        return text  # nothing to quote
    out, i = [], 0
    while i < len(text):
        hit = next(((lit, expr) for lit, expr in subs if lit and text.startswith(lit, i)), None)
        if hit:
            out.append(hit[1])
            i += len(hit[0])
        else:
            out.append("\\" + text[i] if text[i] in '\\$`"' else text[i])
            i += 1
    return '"' + "".join(out) + '"'


@dataclass(frozen=True)
class Recipe:
    """What the script needs, as shell words where it runs a command."""

    run_id: str
    verdict: str
    tree: str
    base: str
    base_tree: str
    head_tree: str
    patches: tuple[tuple[str, str], ...]  # (file name, sha256)
    failed_patch: str  # the patch file that did not apply in the run, "" if none
    config_sha: str  # "" when the run made no .config
    stopped: str  # apply, config or build: the stage that failed and ended the run ("" if none)
    stop_message: str  # its case's message, or the infrastructure trouble that kept it from booting
    stop_verb: str  # the script's function for "it happened again": failed (exit 1) or cannot (exit 2)
    make: tuple[str, ...]
    run_make: str  # the make command exactly as the run logged it
    vng: tuple[str, ...]
    vm_timeout: int
    plan_rows: tuple[tuple[str, str, str, str], ...]  # name, timeout, script (a shell word), params
    failing: str = ""  # the run's failing cases, for comparison


def _tree_of(repo: Path, commit: str) -> str:
    try:
        return proc.output(["git", "-C", str(repo), "rev-parse", f"{commit}^{{tree}}"]).strip()
    except InfraError:
        return ""


def _make_words() -> tuple[str, ...]:
    argv = build_mod.make_argv(Path("@SRC@"), Path("@BUILD@"), 1, ["bzImage", "headers_install"])
    env = [f"{k}={v}" for k, v in build_mod.ccache_env(Path("/"), Path("/")).items() if k.startswith("KBUILD_")]
    words = ["env", *env, 'CCACHE_BASEDIR="$OUT"', "CCACHE_NOHASHDIR=1"]
    for arg in argv:
        if arg == "-j1":
            words.append('-j"$JOBS"')
        elif arg.startswith(("CC=", "HOSTCC=")):
            words.append(arg.split("=", 1)[0] + '="$CC"')
        else:
            words.append(dq(arg, (("@SRC@", "${SRC}"), ("@BUILD@", "${BUILD}"))))
    return tuple(words)


def _plan_rows(run_dir: Path, guests: Path) -> tuple[tuple[str, str, str, str], ...]:
    # the host wrote it, but into the folder the guest can write: read as a guest file (a FIFO
    # or a link planted there must not hang the pages or leak a host file into reproducer.sh)
    text = files.read_guest(run_dir / rundir.GUEST / rundir.GUEST_PLAN, LIMITS.guest_file)
    if text is None:
        return ()
    rows = []
    for line in text.splitlines():
        name, timeout, script, params = (line.split("\t") + ["", "", ""])[:4]
        if name:
            rows.append((name, timeout, dq(script, ((f"{guests}/", "${GUESTS}/"),)), params))
    return tuple(rows)


def _stop(result: RunResult) -> tuple[str, str, str, str]:
    """(failed patch, the stage that ended the run, its message, failed|cannot) from its cases."""
    for c in result.cases:
        if c.group in ("apply", "config", "build") and c.status.value in ("fail", "error"):
            verb = "failed" if c.status.value == "fail" else "cannot"
            return (c.name if c.group == "apply" else ""), c.group, c.message, verb
    infra = next((c.message for c in result.cases if c.group == "infra"), "")
    return "", "", infra, "cannot"


def portable_vng(argv: Sequence[str]) -> list[str]:
    """The run's vng argv without `--qemu WRAPPER`: the bench's QEMU wrapper (bench/run/qemu.py) is
    a file of this machine's cache; another machine's vng finds its own QEMU."""
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--":
            return out + [arg, *it]
        if arg == "--qemu":
            next(it, None)
        elif not arg.startswith("--qemu="):
            out.append(arg)
    return out


def recipe(result: RunResult, plan: Plan, patches: list[tuple[str, str]]) -> Recipe:
    facts, run_dir = result.facts, result.results_dir
    base = facts.base or ""
    guests = plan.home / "guests"
    subs = [(facts.image or "", IMAGE), (str(run_dir / rundir.GUEST), "${GUEST}"), (str(guests), "${GUESTS}")]
    argv = portable_vng(list(facts.vng_argv or ()))
    failed, stopped, message, verb = _stop(result)
    by_name = {p.name: patch_file_name(p) for p in plan.series.patches}
    run_make = next((ln[2:] for ln in _lines(run_dir / rundir.BUILD_LOG) if ln.startswith("$ make ")), "")
    return Recipe(
        run_id=result.run_id, verdict=result.verdict.value, tree=str(plan.tree), base=base,
        base_tree=_tree_of(plan.tree, base) if base else "",
        head_tree=_tree_of(plan.tree, facts.head) if facts.head else "",
        patches=tuple(patches), failed_patch=by_name.get(failed, ""),
        config_sha=sha256_of(run_dir / rundir.KCONFIG) if (run_dir / rundir.KCONFIG).is_file() else "",
        stopped=stopped, stop_message=message, stop_verb=verb, make=_make_words(), run_make=run_make,
        vng=('"$VNG"', *(dq(a, subs) for a in argv[1:])) if argv else (),
        vm_timeout=facts.vm_timeout or 0, plan_rows=_plan_rows(run_dir, guests),
        failing=", ".join(c.key for c in result.failures()),
    )


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()[:5]
    except OSError:
        return []


def copy_guests(src: Path, dest: Path) -> None:
    """The guest runner and workload scripts as run (whole, or not at all)."""
    for stale in dest.parent.glob(f".{dest.name}.tmp"):  # left by an older bench
        shutil.rmtree(stale, ignore_errors=True)
    for link in copy_tree(src, dest):  # published: a link would lead out of the run folder
        formats.warn(f"{link}: a symlink in the guest scripts; not copied into the run")


def write(result: RunResult, plan: Plan) -> Path:
    run_dir = result.results_dir
    patches = copy_patches(plan.series, run_dir / rundir.PATCHES)
    if (plan.home / "guests").is_dir():
        copy_guests(plan.home / "guests", run_dir / rundir.GUESTS)
    path = run_dir / rundir.REPRODUCER
    write_atomic(path, script(recipe(result, plan, patches)))
    path.chmod(0o755)
    return path


# -- the script -----------------------------------------------------------------------------

_PRELUDE = r'''set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${2:-$(mktemp -d "${TMPDIR:-/tmp}/pinbench-repro.XXXXXX")}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
SRC=$OUT/src BUILD=$OUT/build GUEST=$OUT/guest GUESTS=$HERE/guests
JOBS=${JOBS:-$(nproc)} VNG=${VNG:-vng}
if [ -z "${CC:-}" ]; then CC=gcc; if command -v ccache >/dev/null; then CC="ccache gcc"; fi; fi
say() { echo "reproducer: $*" >&2; }
cannot() { say "$*"; exit 2; }  # this machine cannot reproduce the run
failed() { say "$*"; exit 1; }  # failed as a series can
need() { for t; do command -v "$t" >/dev/null || cannot "$t not found (scripts/setup-debian.sh installs it)"; done; }
need git make sha256sum
[ ! -e "$SRC" ] || cannot "$SRC exists: give a new WORK_DIR"
'''


def _header(r: Recipe) -> list[str]:
    return [
        "#!/bin/bash",
        f"# pinbench reproducer of run {r.run_id} (verdict: {r.verdict}); written by pinbench.",
        "# Rebuilds the same kernel (same base tree, patches and .config, each checked by its hash)",
        "# and boots it the same way (the run's vng command, workload plan and VM timeout).",
        "# The image is not bit-identical (build timestamp and number); the .config is.",
        "# Needs git, make, gcc (ccache if present), virtme-ng and QEMU; the guest sees this machine's",
        "# root read-only, so the workloads' tools must be installed here too (scripts/setup-debian.sh).",
        "#",
        "# usage: reproducer.sh [KERNEL_TREE [WORK_DIR]]",
        f"#   KERNEL_TREE  a git kernel tree (default: $BENCH_TREE, else the run's {r.tree})",
        "#   WORK_DIR     where to clone, build and boot (default: a new folder under $TMPDIR or /tmp)",
        "# environment: REPRO_BASE=<commit with the base's content>, REPRO_ANY_CONFIG=1 (go on with",
        "#   another .config), JOBS, CC, VNG",
        "# exit: 0 the workloads passed, 1 failed as a series can (apply, build, boot, a workload),",
        "#       2 this machine cannot reproduce the run (no such base, another .config, a missing tool)",
        f"TREE=${{1:-${{BENCH_TREE:-{shlex.quote(r.tree)}}}}}",
        _PRELUDE.rstrip("\n"),
    ]


def _tree_section(r: Recipe) -> list[str]:
    if not r.base:
        return [f"cannot {shlex.quote(f'the run ended before it had a base commit: {r.stop_message}')}"]
    if not r.base_tree:
        return [f"cannot {shlex.quote(f'the tree of base {r.base} could not be read from {r.tree}')}"]
    return [
        "",
        "# 1. the tree: the base commit, else a commit with the same content",
        f"BASE={r.base} BASE_TREE={r.base_tree}",
        'git -C "$TREE" rev-parse --git-dir >/dev/null 2>&1 || cannot "$TREE: not a git tree"',
        'base=${REPRO_BASE:-$BASE}',
        'git -C "$TREE" cat-file -e "$base^{commit}" 2>/dev/null || base=HEAD',
        'got=$(git -C "$TREE" rev-parse "$base^{tree}")',
        ('[ "$got" = "$BASE_TREE" ] || cannot "$TREE has neither commit $BASE nor its content at $base'
         ' (tree $got, want $BASE_TREE): pass REPRO_BASE=<commit>"'),
        'git clone -q --shared --no-checkout "$TREE" "$SRC"',
        'git -C "$SRC" checkout -q --detach "$(git -C "$TREE" rev-parse "$base^{commit}")"',
        'say "tree: $TREE at $(git -C "$SRC" rev-parse HEAD) (content of $BASE) in $SRC"',
    ]


def _apply_section(r: Recipe) -> list[str]:
    if not r.patches:
        return []
    flags = " ".join(shlex.quote(a) for a in (*tree.IDENTITY, *tree.QUIET_GIT))
    out = ["", "# 2. the series, as the run applied it (same identity and committer date: same commits)",
           '(cd "$HERE/patches" && sha256sum --quiet -c) <<\'SUMS\' || cannot "patches/ changed since the run"',
           *(f"{sha}  {name}" for name, sha in r.patches), "SUMS",
           f"export GIT_COMMITTER_DATE={shlex.quote(tree.COMMITTER_DATE)}",
           f'am() {{ git -C "$SRC" {flags} am -3 --keep-cr "$HERE/patches/$1" >> "$OUT/apply.log" 2>&1; }}']
    for name, _ in r.patches:
        q = shlex.quote(name)
        if name == r.failed_patch:
            return out + [f"am {q} && cannot {shlex.quote(f'{name} applied here but not in the run')}",
                          (f"{r.stop_verb} {shlex.quote(f'{name} does not apply, as in the run: {r.stop_message}')}"
                           ' "(see $OUT/apply.log)"')]
        # the name as data (shlex.quote): a file name may hold `"` or `$(...)`, run here by bash
        out.append(f'am {q} || failed {shlex.quote(f"{name} does not apply")}" (see $OUT/apply.log)"')
    return out + [
        f"HEAD_TREE={r.head_tree}",
        'got=$(git -C "$SRC" rev-parse "HEAD^{tree}")',
        '[ "$got" = "$HEAD_TREE" ] || cannot "the series made tree $got, the run made $HEAD_TREE"',
        'say "series: ' + str(len(r.patches)) + ' patch(es) applied: the same tree as in the run ($HEAD_TREE)"',
    ]


def _config_section(r: Recipe) -> list[str]:
    if not r.config_sha:
        return []
    return [
        "", "# 3. the run's .config; make olddefconfig keeps it as it is with the same tree and compiler",
        f"CONFIG_SHA256={r.config_sha}",
        "same_config() {",
        '    local got; got=$(sha256sum < "$BUILD/.config" | cut -d" " -f1)',
        '    if [ "$got" = "$CONFIG_SHA256" ]; then say ".config sha256 $got: the same as in the run ($1)"; return; fi',
        '    diff -u "$HERE/.config" "$BUILD/.config" | head -30 >&2 || true',
        '    [ -n "${REPRO_ANY_CONFIG:-}" ] && { say "another .config ($1), going on (REPRO_ANY_CONFIG)"; return; }',
        '    cannot "not the same kernel: .config sha256 $got ($1), the run had $CONFIG_SHA256 (another compiler?)"',
        "}",
        'mkdir -p "$BUILD" && cp "$HERE/.config" "$BUILD/.config"',
        'make -C "$SRC" O="$BUILD" CC="$CC" HOSTCC="$CC" olddefconfig > "$OUT/config.log" 2>&1 \\',
        '    || failed "make olddefconfig failed (see $OUT/config.log)"',
        'same_config "after make olddefconfig"',
    ]


def _build_section(r: Recipe) -> list[str]:
    if not r.config_sha or r.stopped in ("apply", "config"):
        return []
    make = " ".join(r.make) + ' > "$OUT/build.log" 2>&1'
    out = ["", "# 4. the build: the run's make command" + (f" (as run: {r.run_make})" if r.run_make else "")]
    if r.stopped == "build":
        return out + [f"{make} && cannot 'the build passed here, but not in the run'",
                      (f"{r.stop_verb} {shlex.quote(f'the build failed, as in the run: {r.stop_message}')}"
                       ' "(see $OUT/build.log)"')]
    return out + [f'{make} || failed "the build failed (see $OUT/build.log)"',
                  'same_config "after the build"',
                  f'say "image: {IMAGE}"']


def _boot_section(r: Recipe) -> list[str]:
    if not r.vng or r.stopped:
        return []
    rows = [f"printf '%s\\t%s\\t%s\\t%s\\n' {shlex.quote(n)} {shlex.quote(t)} {script} {shlex.quote(p)}"
            for n, t, script, p in r.plan_rows]
    return [
        "", "# 5. the guest: the run's workload plan (guest/plan.tsv) with the scripts in guests/ here",
        'mkdir -p "$GUEST"', "{", *(f"    {row}" for row in rows), '} > "$GUEST/plan.tsv"',
        "printf 'BENCH_SRC=%q\\nBENCH_BUILD=%q\\nBENCH_HOME=%q\\n' \"$SRC\" \"$BUILD\" \"$HERE\" > \"$GUEST/env\"",
        "", "# 6. the boot: the run's vng command, killed after the run's VM timeout",
        'need "$VNG" timeout',
        "set +e",
        f"timeout -k 10 {r.vm_timeout or 3600} " + " ".join(r.vng) + ' < /dev/null 2>&1 | tee "$OUT/console.log"',
        "rc=${PIPESTATUS[0]}",
        "set -e",
        ('grep -q "Linux version" "$OUT/console.log"'
         ' || cannot "no kernel output at all (vng exit $rc): vng/QEMU trouble"'),
        "fail=0",
        '[ "$rc" = 0 ] || { say "vng exit $rc (124: the VM timeout, 255: the kernel died)"; fail=1; }',
        "while IFS=$'\\t' read -r name _; do",
        '    if [ ! -f "$GUEST/$name.rc" ]; then say "$name: did not finish"; fail=1; continue; fi',
        '    wrc=$(cut -d" " -f1 "$GUEST/$name.rc")',
        '    case $wrc in 0) say "$name: pass" ;; 4) say "$name: skip" ;;',
        '        *) say "$name: FAIL (exit $wrc): $GUEST/$name.log"; fail=1 ;; esac',
        'done < "$GUEST/plan.tsv"',
        'say "console: $OUT/console.log; kernel reports in it: python3 -m bench scan $OUT/console.log"',
        f"say {shlex.quote(f'the run: {r.verdict}' + (f' ({r.failing})' if r.failing else ''))}",
        'exit "$fail"',
    ]


def script(r: Recipe) -> str:
    parts = [*_header(r), *_tree_section(r), *_apply_section(r), *_config_section(r), *_build_section(r),
             *_boot_section(r)]
    if r.stopped == "config":
        parts += ["", f"{r.stop_verb} {shlex.quote(f'the run stopped at its config: {r.stop_message}')}"]
    elif not r.vng and not r.stopped:
        why = r.stop_message or "no vng command was recorded"
        parts += ["", f"cannot {shlex.quote(f'the run did not boot ({why}): nothing more to reproduce')}"]
    return "\n".join(parts) + "\n"
