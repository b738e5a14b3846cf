"""Property-based tests (Hypothesis) over every parser of outside input (issue 21): series.yaml,
the quilt series file, mbox and format-patch folders, known-issues.yaml, the nightly matrix,
request.json, the console scanner and the live console reader.

Properties: the only exception is UserError (the bench's usage error: one line, exit 2); time grows
linearly with the input (checked loosely: 8x the input within 24x the time); the scanner reports
nothing on text that cannot hold a report header. CI runs a few thousand examples in all,
derandomized (no flakes); `pytest --slow` runs the same properties with many more, at random.
Inputs they found are kept below as explicit examples.
"""

from __future__ import annotations

import json
import string
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bench.base.console_lines import LineSplitter
from bench.base.errors import UserError
from bench.base.limits import LIMITS
from bench.drivers.nightly import matrix
from bench.report import issues_file
from bench.report.oops_table import GROUPS
from bench.report.scanner import scan
from bench.run import plan, series, series_yaml

HOME = Path(__file__).resolve().parent.parent
PATCHES = HOME / "patches"
DIFF = (Path(__file__).parent / "data" / "series" / "quilt" / "01-gup-comment.patch").read_text()
MBOX_FROM = "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"

CI = settings(max_examples=200, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=3000, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def only_user_errors(fn: Callable[[], Any]) -> None:
    """fn may succeed or raise UserError, whose message is bounded (main() makes it one line of at
    most LIMITS.error_chars, but a 16 MB message must not be built in the first place)."""
    try:
        fn()
    except UserError as e:
        assert len(str(e)) < 5 * LIMITS.error_chars, str(e)[:200]


# -- generators ------------------------------------------------------------------------------

_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**40, 10**40), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(["rdma", "kasan", "report", "workload/rxe", "v6.12",
                                                           "^WARNING in x", "[", "(", "a b", "$(x)"]))
_values = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=8) | st.sampled_from(list(series_yaml.KEYS)), inner,
                                         max_size=4), max_leaves=12)


def _yaml_docs(keys: tuple[str, ...]) -> st.SearchStrategy[str]:
    """YAML text: mappings of the file's own keys (and others) to any values, as PyYAML writes
    them, and raw text (anchors, tags, broken syntax, control characters, digits)."""
    mapping = st.dictionaries(st.sampled_from(keys) | st.text(max_size=6), _values, max_size=6)
    dumped = mapping.map(lambda d: yaml.safe_dump(d, allow_unicode=True))
    raw = st.lists(st.sampled_from(list("ab:-[]{}&*!|>'\"# \n\t\x00\x85\u2028") + ["12345", "x: &a", "*a", "!!int "]),
                   max_size=100).map("".join)
    return dumped | raw | st.text(max_size=200)


_counter = st.one_of(st.just(""), st.builds(lambda i, n: f" {i}/{n}", st.integers(0, 12),
                                            st.integers(0, 12) | st.sampled_from([999999999, 10**4000])))
_subject = st.builds(lambda v, c, s: f"[PATCH{v}{c}] {s}", st.sampled_from(["", " v2", " v0", " v99999999999"]),
                     _counter, st.text(max_size=30).map(lambda s: s.replace("\n", " ")))
_mail = st.builds(lambda subj, body: f"{MBOX_FROM}From: A <a@b.c>\nSubject: {subj}\n\n{body}",
                  _subject, st.sampled_from([DIFF.split("---\n", 1)[1], "no diff\n", "", "base-commit: abcdef1\n"]))
_mbox = st.lists(_mail, max_size=6).map("".join) | st.text(max_size=300)


# -- series.yaml, known-issues.yaml, the matrix ----------------------------------------------

def _series_yaml(tmp: Path, text: str) -> None:
    series_yaml.read(tmp / "series.yaml", text)


def _known_issues(tmp: Path, text: str) -> None:
    (tmp / "known-issues.yaml").write_text(text, errors="surrogateescape")
    issues_file.load(tmp / "known-issues.yaml")


def _matrix(tmp: Path, text: str) -> None:
    (tmp / "matrix.yaml").write_text(text, errors="surrogateescape")
    matrix.load(tmp / "matrix.yaml", PATCHES, weekday="Sun")


YAML_READERS = {"series.yaml": (_series_yaml, series_yaml.KEYS),
                "known-issues": (_known_issues, ("issues", *issues_file.ENTRY_KEYS)),
                "matrix": (_matrix, matrix.TOP_KEYS)}


@pytest.mark.parametrize("reader", sorted(YAML_READERS))
@CI
@given(data=st.data())
def test_yaml_readers_raise_only_user_errors(tmp_path: Path, reader: str, data: st.DataObject) -> None:
    fn, keys = YAML_READERS[reader]
    text = data.draw(_yaml_docs(keys))
    only_user_errors(lambda: fn(tmp_path, text))


# Found by the properties above: PyYAML's constructors raise IndexError on an empty tagged scalar.
@pytest.mark.parametrize("reader", sorted(YAML_READERS))
@pytest.mark.parametrize("text", ["!!int ", "a: !!int\n", "a: !!float ''\n", "a: !!timestamp 2001-13-45\n",
                                  "a: !!binary '%%'\n", "a: !!bool maybe\n", "- !!int ''\n"])
def test_yaml_found_examples(tmp_path: Path, reader: str, text: str) -> None:
    only_user_errors(lambda: YAML_READERS[reader][0](tmp_path, text))


# -- patch series: quilt, format-patch folders, mbox ----------------------------------------

def _folder(tmp: Path, files: dict[str, str]) -> Path:
    d = tmp / f"s{time.monotonic_ns()}"
    d.mkdir()
    for name, text in files.items():
        if "/" in name or name in ("", ".", ".."):
            continue
        (d / name).write_text(text, errors="surrogateescape")
    return d


_names = st.sampled_from(["a.patch", "0001-x.patch", "0002-y.patch", "0000-cover-letter.patch", "fix.diff",
                          "notes.txt", "series", "README", "known-issues.yaml"])
_contents = st.sampled_from([DIFF, "", "junk\n", f"{MBOX_FROM}Subject: [PATCH 1/2] x\n\n" + DIFF.split("---\n", 1)[1]])
_quilt_lines = st.lists(st.sampled_from(["a.patch", "a.patch -p1", "a.patch -p0", "# c", "../x.patch", "/etc/passwd",
                                         "missing.patch", "", "a.patch -R", "sub/../a.patch"]), max_size=5)


@CI
@given(files=st.dictionaries(_names, _contents, max_size=5), series_file=_quilt_lines | st.none(),
       yaml_text=st.none() | _yaml_docs(series_yaml.KEYS))
def test_series_folders_raise_only_user_errors(tmp_path: Path, files: dict[str, str], series_file: list[str] | None,
                                               yaml_text: str | None) -> None:
    if series_file is not None:
        files = {**files, "series": "\n".join(series_file) + "\n"}
    if yaml_text is not None:
        files = {**files, "series.yaml": yaml_text}
    d = _folder(tmp_path, files)
    only_user_errors(lambda: series.load_series(str(d), tmp_path))


@CI
@given(text=_mbox)
@example(text=f"{MBOX_FROM}Subject: [PATCH 1/999999999] x\n\n" + DIFF.split("---\n", 1)[1])
@example(text=f"{MBOX_FROM}Subject: [PATCH 1/{'9' * 5000}] x\n\n" + DIFF.split("---\n", 1)[1])
def test_mbox_raises_only_user_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.mbox"
    path.write_text(text, errors="surrogateescape")
    start = time.monotonic()
    only_user_errors(lambda: series.load_series(str(path), tmp_path))
    assert time.monotonic() - start < 2


# -- request.json ----------------------------------------------------------------------------

_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                     max_leaves=8)


@CI
@given(fields=st.dictionaries(st.sampled_from(list(plan.RunRequest("x").to_json())), _json, max_size=6),
       raw=st.none() | st.text(max_size=50))
def test_request_json_raises_only_user_errors(tmp_path: Path, fields: dict[str, Any], raw: str | None) -> None:
    path = tmp_path / "request.json"
    path.write_text(raw if raw is not None else json.dumps({**plan.RunRequest("x").to_json(), **fields}))
    try:
        req = plan.read_request(path)
    except UserError:
        return
    plan.RunRequest.from_json(req.to_json())  # what was accepted is a well-formed request
    only_user_errors(lambda: plan.check_request(req))


# -- the console: the scanner and the live reader -------------------------------------------

# Characters that cannot spell any report header of the table (each header has one outside it);
# the test below checks that premise against bench/report/table*.py, so a new header cannot
# silently make the property vacuous or wrong.
NO_HEADER = "".join(c for c in string.printable if c not in "eyBFOSWY#\r\x0b\x0c")


def test_the_alphabet_cannot_spell_a_report_header() -> None:
    assert all(not set(g.header) <= set(NO_HEADER) for g in GROUPS)


_console_line = st.one_of(
    st.text(alphabet=NO_HEADER, max_size=120),
    st.builds(lambda t, s: f"[{t:12.6f}] {s}", st.floats(0, 99999), st.text(alphabet=NO_HEADER, max_size=80)),
    st.sampled_from(["Call Trace:", " <TASK>", " dump_stack_lvl+0x5d/0x80", " ? __schedule+0x10/0x20", "RIP: 0010:x+0x1/0x2",
                     "---[ end trace 0000000000000000 ]---", "------------[ cut here ]------------", "Tainted: G W",
                     "CPU: 0 PID: 1 Comm: init Not tainted 6.12.0 #1", "Hardware name: QEMU", "Modules linked in:"]))


@CI
@given(lines=st.lists(_console_line, max_size=60))
def test_the_scanner_reports_nothing_without_a_report_header(lines: list[str]) -> None:
    assert scan(lines) == []


@CI
@given(lines=st.lists(st.text(max_size=100) | _console_line, max_size=40))
def test_the_scanner_never_raises(lines: list[str]) -> None:
    scan(lines)


@CI
@given(text=st.text(alphabet="ab\r\n", max_size=300), cuts=st.lists(st.integers(0, 300), max_size=10),
       limit=st.integers(1, 20))
def test_the_live_reader_gives_the_lines_whatever_the_chunks(text: str, cuts: list[int], limit: int) -> None:
    points = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    splitter = LineSplitter(limit)
    got = [line for a, b in zip(points, points[1:]) for line in splitter.feed(text[a:b])] + splitter.close()
    want = text.split("\n")
    if want[-1] == "":
        want.pop()
    assert len(got) == len(want)
    for g, w in zip(got, want):
        kept = w[:limit].rstrip("\r") if len(w) > limit else w.rstrip("\r")
        assert g.startswith(kept) and (len(w) <= limit) == ("line cut at" not in g)


# -- linear time -------------------------------------------------------------------------------

def _secs(fn: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        try:
            fn()
        except UserError:
            pass
        best = min(best, time.perf_counter() - start)
    return best


def _mbox_of(n: int) -> str:
    return "".join(f"{MBOX_FROM}From: A <a@b.c>\nSubject: [PATCH {i}/{n}] mm: x{i}\n\n" + DIFF.split("---\n", 1)[1]
                   for i in range(1, n + 1))


LINEAR: dict[str, Callable[[Path, int], Callable[[], Any]]] = {
    "scanner": lambda tmp, n: lambda: scan(["[    1.000000] x: y z " * 3] * (400 * n)),
    "scanner-long-lines": lambda tmp, n: lambda: scan(["a" * (20000 * n)]),
    "live-reader": lambda tmp, n: lambda: LineSplitter().feed("x" * (500_000 * n) + "\n"),
    "series.yaml": lambda tmp, n: lambda: series_yaml.read(tmp / "series.yaml", "kconfigs: [" + "a, " * (2000 * n) + "b]\n"),
    "mbox": lambda tmp, n: _mbox_loader(tmp, 25 * n),
}


def _mbox_loader(tmp: Path, patches: int) -> Callable[[], Any]:
    path = tmp / f"m{patches}.mbox"
    path.write_text(_mbox_of(patches))
    return lambda: series.load_series(str(path), tmp)


@pytest.mark.parametrize("what", sorted(LINEAR))
def test_time_is_linear_in_the_input(tmp_path: Path, what: str) -> None:
    small, big = _secs(LINEAR[what](tmp_path, 1)), _secs(LINEAR[what](tmp_path, 8))
    assert big <= 24 * small + 0.2, f"{what}: 1x {small:.3f}s, 8x {big:.3f}s"


# -- the slow variant: the same properties, many more random examples -------------------------

@pytest.mark.slow
@SLOW
@given(text=_mbox, yaml_text=_yaml_docs(series_yaml.KEYS), lines=st.lists(_console_line, max_size=200))
def test_many_examples(tmp_path: Path, text: str, yaml_text: str, lines: list[str]) -> None:
    path = tmp_path / "s.mbox"
    path.write_text(text, errors="surrogateescape")
    only_user_errors(lambda: series.load_series(str(path), tmp_path))
    for fn, _ in YAML_READERS.values():
        only_user_errors(lambda: fn(tmp_path, yaml_text))
    assert scan(lines) == []


# -- JSON read back: night.json, a slot's state.json (formats.parse_json) ---------------------


@CI
@given(raw=st.binary(max_size=200) | _json.map(lambda v: json.dumps(v).encode()),
       deep=st.integers(0, 3000))
def test_json_read_back_raises_only_format_problems(tmp_path: Path, raw: bytes, deep: int) -> None:
    """night.json, state.json, summary.json, request.json: any bytes are read or named (a
    FormatProblem), never a crash (RecursionError, UnicodeError, inf) of a later step."""
    from bench.base import formats
    from bench.run import slot
    from bench.drivers.nightly import night_file
    for text in (raw, b"[" * deep + raw + b"]" * deep):
        try:
            night_file.parse(tmp_path / "night.json", text)
        except formats.FormatProblem:
            pass
        (tmp_path / "state.json").write_bytes(text)
        assert isinstance(slot.read_state(tmp_path), slot.State)
        (tmp_path / "request.json").write_bytes(text)
        only_user_errors(lambda: plan.read_request(tmp_path / "request.json"))
