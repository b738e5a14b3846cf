"""Hostile flags, environment and request files (issue 21, items 7, 11, 12): each is a one-line
error naming the input, exit 2 (bisect-step: 128), never an "internal error" with a crash log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.base.errors import UserError
from bench.cli import main as cli_main
from bench.run import plan as plan_mod
from bench.run.series_yaml import read as read_meta

HOME = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad input is named before the tree is resolved (the tarball unpacked): resolving it fails here."""
    def refuse(*_: object) -> Path:
        raise AssertionError("the tree was resolved: the bad input went through")
    monkeypatch.setattr(plan_mod.tree, "resolve_tree", refuse)
    monkeypatch.setenv("BENCH_HOME", str(HOME))


def _run(argv: list[str], capsys: pytest.CaptureFixture[str], rc: int = 2) -> str:
    assert cli_main.main(argv) == rc
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bench: error: ") and "internal error" not in err, err
    return err


def test_a_5000_digit_param_is_named(tmp_path: Path, no_tree: None, capsys: pytest.CaptureFixture[str]) -> None:
    err = _run(["run", "canary", "--workload", "odirect", "--param", "odirect.RACE_SECONDS=" + "9" * 5000,
                "--results", str(tmp_path)], capsys)
    assert "--param" in err and "over the limit of 30 digits" in err and len(err) < 1100


def test_a_5000_digit_integer_in_series_yaml_is_named(tmp_path: Path, no_tree: None,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "s"
    d.mkdir()
    (d / "series.yaml").write_text("description: x\nexpect:\n  - vmstat: nr_foo\n    min: " + "9" * 5000 + "\n")
    assert f"{d}/series.yaml:4: integer" in _run(["run", str(d), "--results", str(tmp_path / "r")], capsys)


def test_results_that_is_a_file_or_cannot_be_made(tmp_path: Path, no_tree: None,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    err = _run(["run", "canary", "--results", str(tmp_path / "file")], capsys)
    assert f"--results {tmp_path / 'file'}: cannot use it as the results folder: not a folder" in err
    err = _run(["run", "canary", "--results", str(tmp_path / "file" / "below")], capsys)
    assert "cannot use it as the results folder: Not a directory" in err
    err = _run(["run", "canary", "--results", "/sys/pinbench-cannot-be-made"], capsys)  # sysfs: EPERM, as root too
    assert "--results /sys/pinbench-cannot-be-made: cannot use it" in err


def test_a_cache_that_is_a_file_is_named_before_any_work(tmp_path: Path, no_tree: None,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """$BENCH_CACHE naming a file was found by the slot code mid-run: an infra/crash with a traceback."""
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "file"))
    err = _run(["run", "canary", "--results", str(tmp_path / "r")], capsys)
    assert f"$BENCH_CACHE {tmp_path / 'file'}: cannot use it as the cache folder: not a folder" in err
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").iterdir())  # no run folder made


def test_results_on_a_read_only_filesystem(tmp_path: Path, no_tree: None, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    real_mkdir = Path.mkdir

    def read_only(self: Path, *a: object, **kw: object) -> None:
        if self.is_relative_to(tmp_path / "ro"):
            raise OSError(30, "Read-only file system", str(self))
        real_mkdir(self, *a, **kw)  # type: ignore[arg-type]
    monkeypatch.setattr(Path, "mkdir", read_only)
    err = _run(["run", "canary", "--results", str(tmp_path / "ro" / "results")], capsys)
    assert "cannot use it as the results folder: Read-only file system" in err


@pytest.mark.parametrize("field, value", [
    ("jobs", "x"), ("cpus", True), ("kconfigs", "rdma"), ("workloads", [1]), ("append", None),
    ("info", ["a"]), ("series", 7), ("baseline", "yes"), ("suppress", {"a": "b"}), ("results", 3),
])
def test_a_bisect_step_request_with_wrong_types_is_named_by_field(tmp_path: Path, no_tree: None, field: str,
                                                                 value: object,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    data = plan_mod.RunRequest("canary").to_json()
    data[field] = value
    (tmp_path / "request.json").write_text(json.dumps(data))
    err = _run(["bisect-step", "--request", str(tmp_path / "request.json"), "--signature", "workload/smoke"], capsys, rc=128)
    assert f"request.json: field '{field}' must be" in err, err


@pytest.mark.parametrize("text", ["[]", "7", "{", '{"jobs": ' + "9" * 5000 + "}",
                                  "{}", '{"jobs": 2}',  # no series: a TypeError (found by Hypothesis)
                                  "[" * 100000, '{"series": "x", "jobs": 1e999}', '{"series": "\\udc80"}'],
                         ids=["list", "number", "cut", "5000-digits", "empty", "no-series", "deep", "1e999", "surrogate"])
def test_a_request_that_is_no_object_is_named(tmp_path: Path, text: str) -> None:
    (tmp_path / "request.json").write_text(text)
    with pytest.raises(UserError, match="request.json: not a run request written by bench"):
        plan_mod.read_request(tmp_path / "request.json")


@pytest.mark.parametrize("var, value", [("BENCH_SLOT_WAIT", "soon"), ("BENCH_SLOT_WAIT", "nan"),
                                        ("BENCH_SLOT_WAIT", "-5"), ("BENCH_SLOTS", "many"), ("BENCH_SLOTS", "2.5"),
                                        pytest.param("BENCH_SLOTS", "9" * 5000, id="BENCH_SLOTS-5000-digits")])
def test_numbers_in_the_environment_are_named(tmp_path: Path, no_tree: None, monkeypatch: pytest.MonkeyPatch,
                                              var: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(var, value)
    err = _run(["run", "canary", "--results", str(tmp_path)], capsys)
    assert f"${var}=" in err and len(err) < 300, err


BAD_WORDS = ["$(reboot)", "a'b", 'x"', "`id`", "a;b", "a|b", "a\\b", "wörd", "a&b"]


@pytest.mark.parametrize("word", BAD_WORDS)
def test_append_and_series_cmdline_refuse_the_same_words(tmp_path: Path, no_tree: None, word: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UserError, match="kernel parameter"):
        read_meta(tmp_path / "series.yaml", f"cmdline: [{json.dumps(word)}]\n")
    err = _run(["run", "canary", "--append", word, "--results", str(tmp_path)], capsys)
    assert "--append: kernel parameter" in err


@pytest.mark.parametrize("word", ["quiet", "loglevel=3", "console=tty0", "console_msg_format=syslog",
                                  "sysctl.kernel.printk=1", "printk.console_no_auto_verbose=1"])
def test_words_that_blind_the_console_are_refused_everywhere(tmp_path: Path, no_tree: None, word: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # With `quiet` a WARNING (KERN_WARNING) is not printed on the console the scan reads.
    with pytest.raises(UserError, match="would hide kernel reports"):
        read_meta(tmp_path / "series.yaml", f"cmdline: [{word}]\n")
    err = _run(["run", "canary", "--append", word, "--results", str(tmp_path)], capsys)
    assert "--append: kernel parameter" in err and "would hide kernel reports" in err, err
    assert len(err.splitlines()) == 1


def test_append_splits_words_as_the_kernel_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_HOME", str(HOME))
    monkeypatch.setattr(plan_mod.tree, "resolve_tree", lambda *a: tmp_path)
    from bench.cli import options
    args = cli_main.build_parser().parse_args(["run", "canary", "--append", "nokaslr  panic_on_warn=1",
                                               "--append", "movablecore=25%", "--results", str(tmp_path)])
    plan = plan_mod.make_plan(options.request(args, args.series), HOME)
    assert plan.append == ("nokaslr", "panic_on_warn=1", "movablecore=25%")
    assert read_meta(tmp_path / "series.yaml", "cmdline: [movablecore=25%, page_owner=on]\n").cmdline == (
        "movablecore=25%", "page_owner=on")


def test_a_5000_digit_shard_is_named() -> None:
    from bench.drivers.nightly.matrix import parse_shard
    with pytest.raises(UserError, match="--shard"):
        parse_shard("1/" + "9" * 5000)
