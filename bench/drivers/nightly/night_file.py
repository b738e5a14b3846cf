"""night.json written and read back: its format version stamped, and checked with its shape
before any step uses it.

A night folder beside the new one may hold a night.json from an older bench, a crash or a
hand edit. Every field a later step reads (the comparison, the history grid, the trends,
`bench merge`) is checked here once, so those steps can index it without guarding: a night
that does not fit is named on one warning line and left out (or, when the user named it,
refused with a one-line error), never the crash of a later night's final step.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.base import formats, paths, rundir
from bench.base.errors import UserError
from bench.base.files import write_atomic
from bench.drivers.nightly.night_data import Night, NightEntry

# The shape of night.json: a type, a list [T], an object {key: T} (keys ending in "?" may
# be absent), OPT(T) for T or null, MAP(T) for an object of T.
_STR, _INT, _BOOL, _NUM = str, int, bool, float


class OPT:
    def __init__(self, of: object) -> None:
        self.of = of


class MAP:
    def __init__(self, of: object) -> None:
        self.of = of


class NAME:
    """A string used as a folder name inside the night (a run id): a plain name."""


_FAILING = {"key": _STR, "status": _STR, "message?": _STR}
_KNOWN = {"id": _STR, "state?": _STR}
# A night beside this one (or --previous): what the comparison, the grid and the trends read.
ENTRY = {"id": _STR, "run_id": NAME, "verdict": _STR, "cases": MAP(_STR), "failing": [_FAILING],
         "workloads?": [_STR], "secs?": OPT(_NUM), "known_issues?": [_KNOWN]}
PAST = {"name": _STR, "started": _STR, "complete": _BOOL, "shard?": OPT({"index": _INT, "count": _INT}),
        "entries": [ENTRY], "missing?": [_STR],
        "comparison?": OPT({"new?": [{"id": _STR, "key": _STR}]})}
# A shard given to `bench merge`: all that a night's own files are made from.
SHARD = {**PAST, "finished?": OPT(_STR), "missing": [_STR],
         "matrix": {"path?": OPT(_STR), "digest": _STR, "ids": [_STR]},
         "tree?": OPT(MAP(object)), "merged_from?": [_STR], "known_stale_after?": OPT(_INT),
         # every key night.entry_record writes that the night's files read
         "entries": [{**ENTRY, "series": _STR, "config": _STR, "started": _STR, "secs": _NUM,
                      "exit_code": OPT(_INT), "failing": [{**_FAILING, "message": _STR}],
                      "reports": [{"title": _STR, "known": _BOOL, "message?": _STR}], "base": OPT(_STR),
                      "workloads": [_STR], "fragments": [_STR], "patches": [{"file": _STR, "sha256?": _STR}],
                      "patchset_hash": _STR, "repeat?": _INT}]}
VERDICTS = ("pass", "fail", "error")


def problem(value: object, shape: object, where: str) -> str | None:
    """Where value does not fit shape ("entries[2].verdict: missing"), or None."""
    if isinstance(shape, OPT):
        return None if value is None else problem(value, shape.of, where)
    if shape is NAME:
        return None if paths.plain(value) else f"{where}: {str(value)[:60]!r} is not a plain folder name"
    if shape is object:
        return None
    if isinstance(shape, type):
        ok = (isinstance(value, (int, float)) if shape is float else isinstance(value, shape))
        ok = ok and (shape is bool or not isinstance(value, bool))
        return None if ok else f"{where}: {type(value).__name__}, not {shape.__name__}"
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"{where}: not a list"
        return next((p for i, v in enumerate(value) if (p := problem(v, shape[0], f"{where}[{i}]"))), None)
    if isinstance(shape, MAP):
        if not isinstance(value, dict):
            return f"{where}: not an object"
        return next((p for k, v in value.items() if (p := problem(v, shape.of, f"{where}.{k}"))), None)
    assert isinstance(shape, dict)
    if not isinstance(value, dict):
        return f"{where}: not an object"
    for key, sub in shape.items():
        name = key.rstrip("?")
        if name not in value:
            if key.endswith("?"):
                continue
            return f"{where}.{name}: missing".lstrip(".")
        if p := problem(value[name], sub, f"{where}.{name}".lstrip(".")):
            return p
    return None


def parse(path: Path, text: str | bytes, shape: object = PAST) -> Night:
    """night.json's text checked (formats.FormatProblem naming path and what is wrong): read
    strictly (formats.parse_json: UTF-8, nesting, finite numbers, no lone surrogates)."""
    raw = formats.parse_json(path, text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    data = formats.check(path, raw, formats.NIGHT)
    if p := problem(data, shape, ""):
        raise formats.FormatProblem(f"{path}: {p}")
    try:  # every key the shape checked reads; one of another type is kept as a label
        night = Night.from_json({k: v for k, v in data.items() if k != formats.KEY})
    except ValueError as why:
        raise formats.FormatProblem(f"{path}: {why}") from why
    for e in night.entries:
        if p := _disagrees(e):
            raise formats.FormatProblem(f"{path}: entry {e.id!r}: {p}")
    return night


def _disagrees(entry: NightEntry) -> str | None:
    """A verdict its failing list does not bear out: the comparison (and so the exit code)
    reads the failing list, so a 'fail' with none failing would make a failed night exit 0."""
    verdict, failing = entry.verdict, entry.failing
    if verdict not in VERDICTS:
        return f"verdict {verdict!r}"
    if (bad := next((i for i, f in enumerate(failing) if f.status not in ("fail", "error")), None)) is not None:
        return f"failing[{bad}].status {failing[bad].status!r} (want 'fail' or 'error')"
    if verdict == "fail" and not any(f.status == "fail" for f in failing):
        return "verdict 'fail' with no failing case of status 'fail'"
    if verdict == "pass" and failing:
        return f"verdict 'pass' with failing cases ({failing[0].key!r})"
    return None


def write(night_dir: Path, night: Night) -> None:
    """night.json in night_dir, its format version first (atomic: a reader never sees half)."""
    data = formats.stamp(night.to_json(), formats.NIGHT)
    write_atomic(night_dir / rundir.NIGHT, json.dumps(data, indent=2, default=str) + "\n")


def read(folder: Path, shape: object = PAST) -> Night:
    """The night in folder (FormatProblem if it has none this bench can read)."""
    path = folder / rundir.NIGHT
    return parse(path, formats.read_bytes(path), shape)


def load_night(folder: Path) -> Night | None:
    """A night beside this one: None (and a warning naming the file) if it cannot be read;
    a folder without night.json is not a night and is passed over quietly."""
    if not (folder / rundir.NIGHT).exists():
        return None
    try:
        return read(folder)
    except formats.FormatProblem as e:
        formats.warn(f"{e}; that night is left out")
        return None


def beside(night_dir: Path) -> list[tuple[Path, Night]]:
    """The readable nights in the folders beside night_dir, by name. Symlinks are passed over:
    a link (`latest`) would count a night twice or read one outside the folder, and a symlink
    loop there crashed the night's final step (Path.resolve raises on it)."""
    root = night_dir.parent
    found = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.is_symlink() or not folder.is_dir() or folder.name == night_dir.name:
            continue
        if (night := load_night(folder)) is not None:
            found.append((folder, night))
    return found


def require_night(folder: Path, shape: object = PAST) -> Night:
    """A night the user named (--previous; a shard to merge: shape SHARD): one-line error if
    it is not one this bench can read."""
    try:
        return read(folder, shape)
    except formats.FormatProblem as e:
        raise UserError(f"{folder}: not a night folder this bench can read: {e}") from e
