"""Hostile YAML (issue 21, item 3): every YAML reader of the bench goes through bench/base/yamlmap.py's
one loader, whose limits (bench/base/limits.py) turn an alias bomb, a recursive alias, deep nesting or a
huge integer into a one-line error naming file:line and the limit, in well under a second."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.base import yamlmap
from bench.base.errors import UserError
from bench.base.limits import LIMITS
from bench.cli import main as cli_main
from bench.drivers.nightly import matrix
from bench.report import issues_file, known
from bench.run import guests, series

HOME = Path(__file__).resolve().parent.parent


def alias_bomb() -> str:
    """The billion laughs in YAML: ~350 bytes, nine aliases nine deep (9**9 strings expanded)."""
    rows = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        rows.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(rows) + "\n"


# (name, text, what the error says, the line it names)
HOSTILE = [
    ("bomb", alias_bomb(), "alias", 2),
    ("recursive", "description: &a [*a]\n", "alias", 1),
    ("deep", "description: " + "[" * 5000 + "]" * 5000 + "\n", f"over {LIMITS.yaml_depth} levels", 1),
    ("deep-block", "description:\n" + "".join(" " * i + "- \n" for i in range(1, 60)), "levels", 33),
    ("bigint", "description: x\nkconfigs: " + "7" * 5000 + "\n", f"limit of {LIMITS.int_digits} digits", 2),
    ("tagged-int", "description: !!int " + "7" * 5000 + "\n", "digits", 1),
    ("huge", "description: '" + "x" * (LIMITS.yaml_bytes + 1) + "'\n", f"limit of {LIMITS.yaml_bytes}", 0),
]


def _series_yaml(d: Path, text: str) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "series.yaml").write_text(text)
    series.load_series(str(d), d.parent)


def _matrix(d: Path, text: str) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "matrix.yaml").write_text(text)
    matrix.load(d / "matrix.yaml", HOME / "patches")


def _issues(d: Path, text: str) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "known-issues.yaml").write_text(text.replace("description:", "issues:", 1))
    issues_file.load(d / "known-issues.yaml")


def _suppressions(d: Path, text: str) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "known.yaml").write_text(text)
    known.load_suppressions(d / "known.yaml")


def _workload(d: Path, text: str) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "w.sh").write_text("true\n")
    (d / "w.yaml").write_text(text)
    guests.load(d / "w.yaml")


READERS: dict[str, Callable[[Path, str], None]] = {
    "series.yaml": _series_yaml, "matrix": _matrix, "known-issues": _issues, "suppressions": _suppressions,
    "workload": _workload}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("name, text, says, line", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_every_yaml_reader_refuses_hostile_yaml_fast(tmp_path: Path, reader: str, name: str, text: str,
                                                     says: str, line: int) -> None:
    start = time.monotonic()
    with pytest.raises(UserError) as err:
        READERS[reader](tmp_path / "s", text)
    took = time.monotonic() - start
    msg = str(err.value)
    assert says in msg and "\n" not in msg and len(msg) <= LIMITS.error_chars, msg
    if line:
        assert f".yaml:{line}: " in msg, msg
    assert took < 1.0, f"{reader} took {took:.2f}s over {name}"


def test_no_yaml_file_of_the_project_uses_aliases_or_goes_over_a_limit() -> None:
    """The limits refuse nothing the project has: aliases are refused outright because no file the
    bench reads uses them (ci-examples/ are CI configs, read by GitLab, not by the bench)."""
    files = [HOME / "known-issues.yaml", *HOME.glob("nightly/*.yaml"), *HOME.glob("guests/*.yaml"),
             *HOME.glob("patches/**/*.yaml")]
    assert len(files) > 10
    for p in files:
        yamlmap.load(p, p.read_text())


def test_an_alias_bomb_series_yaml_is_one_line_exit_2_from_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BENCH_HOME", str(HOME))
    folder = tmp_path / "bomb"
    folder.mkdir()
    (folder / "series.yaml").write_text(alias_bomb())
    start = time.monotonic()
    assert cli_main.main(["run", str(folder), "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert time.monotonic() - start < 2
    assert err.count("\n") == 1 and f"{folder}/series.yaml:2: YAML alias *a" in err, err


def test_anchors_without_aliases_and_plain_yaml_still_load(tmp_path: Path) -> None:
    y = yamlmap.read(tmp_path / "x.yaml", "description: &d text\nkconfigs: [a, b]\n", ("description", "kconfigs"))
    assert y.data == {"description": "text", "kconfigs": ["a", "b"]}
    assert yamlmap.load(tmp_path / "x.yaml", "n: " + "9" * LIMITS.int_digits + "\n") == {"n": int("9" * 30)}
