"""What a `bench prove` started with (its folder's prove.json and request.json), so that a
stopped proof can be finished later: `bench prove --resume DIR`.

A whole catalogue takes hours under TCG (a run a bug); a proof stopped by Ctrl-C, the machine
or the end of a CI job's time keeps every finished run in its folder. Resuming reads back what
it was asked (the run options, the catalogue, the bugs in order, --repeat, whether the control
measured reach) and refuses, naming what changed, when the verdicts would no longer be of one
bench and one kernel: the files that decide them (the bench's code, guests/, kconfigs/,
known-issues.yaml, the catalogue's series) or the base commit a plan resolves to. Runs of
another bench or tree mixed into one table would be a proof of nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.base import formats, rundir
from bench.base.errors import UserError, quote
from bench.base.files import write_atomic
from bench.run import tree as tree_mod
from bench.run.plan import Plan, RunRequest, read_request, write_request

PACKAGE = Path(__file__).resolve().parents[2]  # bench/ (not only drivers/): its code decides verdicts (judging, scanning, cases)


@dataclass(frozen=True)
class Started:
    catalogue: Path  # the catalogue folder
    bugs: tuple[str, ...]  # the names proven, in order (the sub-runs' numbers follow it)
    repeat: int  # --repeat
    reach: bool  # the control profiles the bugs' files
    inputs: str  # inputs_digest() at the start
    bases: tuple[str, ...]  # the base commit of each plan (the bugs', in order), resolved at the start


def _files(top: Path) -> Iterator[Path]:
    if top.is_file():
        yield top
    elif top.is_dir():
        yield from (p for p in sorted(top.rglob("*")) if p.is_file() and "__pycache__" not in p.parts)


def inputs_digest(home: Path, catalogue: Path, bugs: Sequence[Plan]) -> str:
    """One digest of every file that decides a verdict besides the kernel: the bench's code,
    the guests' scripts and programs, the kconfig fragments (kconfigs/ and any given by path),
    the known issues (and --suppress files), the catalogue."""
    sha = hashlib.sha256()
    given = sorted({*(f.path for b in bugs for f in b.fragments), *(p for b in bugs for p in b.suppress_files)})
    for top in (PACKAGE, home / "guests", home / "kconfigs", home / "known-issues.yaml", catalogue, *given):
        for path in _files(top):
            sha.update(f"{path.relative_to(top.parent)}\0".encode() + path.read_bytes() + b"\0")
    return sha.hexdigest()


def bases(bugs: Sequence[Plan]) -> tuple[str, ...]:
    """The commit each bug is applied on, as pipeline.run resolves it (its series.yaml's `base:` too)."""
    return tuple(tree_mod.resolve_base(b.tree, b.base or b.series.base) for b in bugs)


def write(folder: Path, request: RunRequest, started: Started) -> None:
    write_request(request, folder / rundir.REQUEST)
    data = {"catalogue": str(started.catalogue), "bugs": list(started.bugs), "repeat": started.repeat,
            "reach": started.reach, "inputs": started.inputs, "bases": list(started.bases)}
    write_atomic(folder / rundir.PROVE, json.dumps(formats.stamp(data, formats.PROVE), indent=2) + "\n")


def read(folder: Path) -> tuple[RunRequest, Started]:
    """What the prove in folder started with; a UserError naming the file and field when it is
    not a prove folder or its files are not what this bench writes."""
    path = folder / rundir.PROVE
    if not path.is_file():
        raise UserError(f"{path}: missing: not a folder of `bench prove` (or one older than --resume)")
    try:
        data = formats.check(path, formats.load_json(path), formats.PROVE)
    except formats.FormatProblem as e:
        raise UserError(str(e)) from e
    kinds = {"catalogue": str, "bugs": list, "repeat": int, "reach": bool, "inputs": str, "bases": list}
    for name, kind in kinds.items():
        value = data.get(name)
        bad = isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind)
        if bad or (isinstance(value, list) and not all(isinstance(v, str) for v in value)):
            raise UserError(f"{path}: field {quote(name)} must be a {kind.__name__}"
                            f"{' of strings' if kind is list else ''}, not {quote(json.dumps(value), 40)}")
    if not 1 <= data["repeat"] <= 100 or len(data["bases"]) != len(data["bugs"]) or not data["bugs"]:
        raise UserError(f"{path}: not what `bench prove` writes (repeat {data['repeat']},"
                        f" {len(data['bugs'])} bug(s), {len(data['bases'])} base(s))")
    if not Path(data["catalogue"]).is_absolute() or "\0" in data["catalogue"]:  # written resolved: "" was the cwd
        raise UserError(f"{path}: field 'catalogue' must be a folder's absolute path, not {quote(data['catalogue'], 40)}")
    started = Started(Path(data["catalogue"]), tuple(data["bugs"]), data["repeat"], data["reach"],
                      data["inputs"], tuple(data["bases"]))
    return read_request(folder / rundir.REQUEST), started


def check_same(folder: Path, started: Started, home: Path, bugs: Sequence[Plan]) -> None:
    """Refuse to resume when the bench or the kernel is not the one the runs so far had."""
    if (names := tuple(b.series.name for b in bugs)) != started.bugs:  # a sub-run's number is its place
        raise UserError(f"{folder / rundir.PROVE}: field 'bugs' must be the catalogue's bugs in its order"
                        f" ({quote(', '.join(names), 80)}), not {quote(', '.join(started.bugs), 80)}")
    if inputs_digest(home, started.catalogue, bugs) != started.inputs:
        raise UserError(f"{folder / rundir.PROVE}: the bench, guests/, kconfigs/, known-issues.yaml, the catalogue"
                        " or a --suppress or --kconfig file changed since this proof started; its runs and new ones would not be one proof"
                        " (start a new `bench prove`)")
    for bug, was, now in zip(bugs, started.bases, bases(bugs)):
        if was != now:
            raise UserError(f"{folder / rundir.PROVE}: {bug.series.name}'s base is {now[:12]} now, {was[:12]} when this"
                            " proof started (start a new `bench prove`)")
