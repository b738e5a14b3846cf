"""bench.run.series: quilt folders, format-patch folders, mboxes and series.yaml (no git)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.base.errors import UserError
from bench.run.series import Series, list_series, load_series

SERIES = Path(__file__).parent / "data" / "series"
BASE = "9b95d84d85880caddaa14696875bc201080dca24"  # conftest.make_kernel_repo() HEAD
SUBJECTS = ("mm/gup: add pin_user_pages_fast()", "mm: declare pin_user_pages_fast()",
            "Documentation: describe fake pinning")


def subjects(series: Series) -> tuple[str, ...]:
    return tuple(p.subject for p in series.patches)


def load_file(tmp_path: Path, name: str, text: str) -> Series:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return load_series(str(path), tmp_path / "patches")


def user_error(spec: str, patches_dir: Path) -> str:
    with pytest.raises(UserError) as e:
        load_series(spec, patches_dir)
    return str(e.value)


# -- mbox -----------------------------------------------------------------------------------


def test_mbox_with_cover_letter() -> None:
    s = load_series(str(SERIES / "cover-3.mbox"), SERIES)
    assert s.name == "cover-3" and s.source == SERIES / "cover-3.mbox"
    assert subjects(s) == SUBJECTS
    assert [p.index for p in s.patches] == [1, 2, 3]
    assert s.patches[0].name == "0001-mm-gup-add-pin_user_pages_fast"
    assert s.patches[0].author == "Jane Pinner <jane@example.org>"
    assert s.patches[1].author == "Zoë Pinner <zoe@example.org>"  # RFC 2047 decoded
    assert s.base == BASE
    assert s.description == "mm/gup: fake fast pinning"
    assert all(p.text.startswith("From ") and "\n+++ " in p.text for p in s.patches)
    assert "[PATCH 2/3]" in s.patches[1].text  # the message itself is untouched


def test_v2_mbox_is_ordered_by_index() -> None:
    s = load_series(str(SERIES / "v2.mbox"), SERIES)
    assert subjects(s) == SUBJECTS
    assert "[PATCH v2 1/3]" in s.patches[0].text
    assert "nr > 0 ? nr : -1" in s.patches[0].text


def test_newest_revision_wins(tmp_path: Path) -> None:
    both = (SERIES / "cover-3.mbox").read_text() + (SERIES / "v2.mbox").read_text()
    s = load_file(tmp_path, "both.mbox", both)
    assert all("[PATCH v2 " in p.text for p in s.patches)


def test_missing_patch_is_named() -> None:
    msg = user_error(str(SERIES / "missing-2.mbox"), SERIES)
    assert "missing-2.mbox" in msg and "2/3 missing" in msg


def test_reply_noise_is_skipped_and_mboxrd_unquoted() -> None:
    s = load_series(str(SERIES / "noise.mbox"), SERIES)
    assert subjects(s) == SUBJECTS
    assert all("/* reply */" not in p.text and "Rev Iewer" not in p.text for p in s.patches)
    assert "\nFrom the user's point of view" in s.patches[2].text


def test_duplicate_patch_index(tmp_path: Path) -> None:
    msgs = (SERIES / "cover-3.mbox").read_text()
    second = msgs[msgs.index("From ", msgs.index("[PATCH 2/3]") - 400):]
    second = second[: second.index("From ", 10)]
    with pytest.raises(UserError, match="2/3 appears twice"):
        load_file(tmp_path, "dup.mbox", msgs + second)


def test_single_format_patch_file() -> None:
    path = SERIES / "fp" / "0002-mm-declare-pin_user_pages_fast.patch"
    s = load_series(str(path), SERIES)
    assert s.name == "0002-mm-declare-pin_user_pages_fast"
    assert subjects(s) == (SUBJECTS[1],)


def test_crlf_mbox_keeps_carriage_returns(tmp_path: Path) -> None:
    text = (SERIES / "cover-3.mbox").read_text().replace("\n", "\r\n")
    path = tmp_path / "crlf.mbox"
    path.write_bytes(text.encode())
    s = load_series(str(path), tmp_path)
    assert subjects(s) == SUBJECTS
    assert "\r\n+++ " in s.patches[0].text


@pytest.mark.parametrize("text, match", [
    ("", "empty mbox"),
    ("From: a <a@b>\nSubject: [PATCH 0/1] cover\n\nhello\n", "no patches found"),
])
def test_bad_mbox(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(UserError, match=match):
        load_file(tmp_path, "bad.mbox", text)


# -- folders --------------------------------------------------------------------------------


def test_quilt_folder_with_yaml() -> None:
    s = load_series("quilt", SERIES)
    assert s.name == "quilt" and s.source == SERIES / "quilt"
    assert [p.name for p in s.patches] == ["01-gup-comment.patch", "02-declare.patch"]
    assert subjects(s) == ("mm/gup: say what this file is", SUBJECTS[1])
    assert s.patches[0].path == SERIES / "quilt" / "01-gup-comment.patch"
    assert s.base == BASE
    assert s.kconfigs == ("debug-vm",) and s.workloads == ("smoke",)
    assert s.suppress == ("^WARNING: .* at mm/gup.c",)
    assert s.description == "A header-less quilt patch and a mail patch."


def test_headerless_patch_gets_mail_headers() -> None:
    p = load_series("quilt", SERIES).patches[0]
    assert p.author is None
    head, body = p.text.split("\n\n", 1)
    assert "From: pinbench <pinbench@localhost>" in head
    assert "Subject: [PATCH] mm/gup: say what this file is" in head
    assert "\nDate: " in head
    assert body.startswith("A header comment.\n")
    assert "Index: linux/mm/gup.c" in body


def test_format_patch_folder(tmp_path: Path) -> None:
    shutil.copytree(SERIES / "fp", tmp_path / "fp")
    s = load_series(str(tmp_path / "fp"), tmp_path)
    assert [p.name for p in s.patches][0] == "0001-mm-gup-add-pin_user_pages_fast.patch"
    assert subjects(s) == SUBJECTS
    assert s.base == BASE  # from the cover letter
    assert s.description == "mm/gup: fake fast pinning"
    (tmp_path / "fp" / "0002-mm-declare-pin_user_pages_fast.patch").unlink()
    assert "2/3 missing" in user_error(str(tmp_path / "fp"), tmp_path)


def test_yaml_mbox_key_and_base_override(tmp_path: Path) -> None:
    d = tmp_path / "patches" / "pins"
    d.mkdir(parents=True)
    shutil.copy(SERIES / "cover-3.mbox", d / "pins.mbox")
    (d / "series.yaml").write_text("mbox: pins.mbox\nbase: v6.12\n")
    s = load_series("pins", tmp_path / "patches")
    assert subjects(s) == SUBJECTS
    assert s.base == "v6.12"
    assert s.description == "mm/gup: fake fast pinning"


def test_empty_series_is_valid(tmp_path: Path) -> None:
    d = tmp_path / "baseline"
    d.mkdir()
    (d / "series").write_text("# nothing yet\n\n")
    s = load_series(str(d), tmp_path)
    assert s.patches == () and s.base is None and s.kconfigs == ()


def test_yaml_only_folder_is_empty_series(tmp_path: Path) -> None:
    d = tmp_path / "base-only"
    d.mkdir()
    (d / "series.yaml").write_text("description: baseline\nkconfigs: [kasan]\n")
    s = load_series(str(d), tmp_path)
    assert s.patches == () and s.kconfigs == ("kasan",)


def quilt(tmp_path: Path, series: str, files: dict[str, str] | None = None) -> Path:
    d = tmp_path / "q"
    d.mkdir(parents=True)
    (d / "series").write_text(series)
    for name, text in (files or {}).items():
        (d / name).write_text(text)
    return d


DIFF = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"


@pytest.mark.parametrize("series, files, match", [
    ("a.patch\n\nb.patch\n", {"a.patch": DIFF}, r"series:3: patch file b.patch not found"),
    ("a.patch -p0\n", {"a.patch": DIFF}, r"series:1: strip level -p0 not supported"),
    ("a.patch -p2\n", {"a.patch": DIFF}, r"series:1: strip level -p2"),
    ("a.patch -R\n", {"a.patch": DIFF}, r"series:1: unsupported quilt option '-R'"),
    ("a.patch\n", {"a.patch": ""}, r"a.patch: empty patch file"),
    ("a.patch\n", {"a.patch": "  \n\n"}, r"a.patch: empty patch file"),
    ("a.patch\n", {"a.patch": "just words\n"}, r"a.patch: no diff found"),
    ("a.patch\nb.patch\na.patch\n", {"a.patch": DIFF, "b.patch": DIFF},
     r"series:3: patch a.patch is listed twice \(line 1\)"),
])
def test_bad_quilt(tmp_path: Path, series: str, files: dict[str, str], match: str) -> None:
    d = quilt(tmp_path, series, files)
    with pytest.raises(UserError, match=match):
        load_series(str(d), tmp_path)


def test_quilt_options_tolerated(tmp_path: Path) -> None:
    d = quilt(tmp_path, "a.patch -p1 # fix\nb.patch -p ab\n", {"a.patch": DIFF, "b.patch": DIFF})
    s = load_series(str(d), tmp_path)
    assert [p.name for p in s.patches] == ["a.patch", "b.patch"]
    assert subjects(s) == ("a.patch", "b.patch")  # no description: the file name


def test_quilt_mail_without_from_gets_author(tmp_path: Path) -> None:
    d = quilt(tmp_path, "a.patch\n", {"a.patch": "Subject: [PATCH] fix x\n\nWhy.\n---\n" + DIFF})
    p = load_series(str(d), tmp_path).patches[0]
    assert p.subject == "fix x" and p.author is None
    assert "From: pinbench <pinbench@localhost>" in p.text


def test_kernel_style_first_line_is_not_a_header(tmp_path: Path) -> None:
    d = quilt(tmp_path, "a.patch\n", {"a.patch": "mm: fix x\n\nWhy.\n" + DIFF})
    p = load_series(str(d), tmp_path).patches[0]
    assert p.subject == "mm: fix x"
    assert "Subject: [PATCH] mm: fix x\n" in p.text


def yaml_error(tmp_path: Path, text: str) -> str:
    d = quilt(tmp_path, "")
    (d / "series.yaml").write_bytes(text.encode("utf-8", errors="surrogateescape"))
    with pytest.raises(UserError) as e:
        load_series(str(d), tmp_path)
    assert str(d / "series.yaml") in str(e.value)
    return str(e.value)


@pytest.mark.parametrize("text, match", [
    ("description: x\nkernel: y\n", r"series.yaml:2: unknown key 'kernel'"),
    ("base: 1234567\n", r"series.yaml:1: base must be a string \(quote it\)"),
    ("kconfigs: kasan\n", r"series.yaml:1: kconfigs must be a list"),
    ("workloads: [smoke, 3]\n", r"workloads must be a list of non-empty strings"),
    ("suppress: ['(unclosed']\n", r"bad suppress regex '\(unclosed'"),
    ("description: [a\n", r"series.yaml:2: invalid YAML"),
    ("- a\n- b\n", r"expected a mapping"),
    ("base: a\nbase: b\n", r"series.yaml:2: duplicate key 'base'"),
    ("mbox: ../x.mbox\n", r"mbox must be a file name"),
    ("description: a\x01b\n", r"series.yaml:1: control character 0x01"),
    ("description: ok\nbase: \udce9\n", r"series.yaml:2: byte 0xe9 that is not UTF-8"),
    ("description: x\nkconfigs: [a]\nsuppress:\n  - {title: a, title: b}\n", r"series.yaml:4: duplicate key 'title'"),
])
def test_bad_yaml(tmp_path: Path, text: str, match: str) -> None:
    import re

    assert re.search(match, yaml_error(tmp_path, text))


def test_yaml_mbox_missing_and_conflicting(tmp_path: Path) -> None:
    d = tmp_path / "q"
    d.mkdir()
    (d / "series.yaml").write_text("mbox: x.mbox\n")
    assert "series.yaml: mbox file 'x.mbox' not found" in user_error(str(d), tmp_path)
    (d / "x.mbox").write_text("")
    (d / "series").write_text("")
    assert "also exists" in user_error(str(d), tmp_path)


def test_empty_folder_and_unknown_name(tmp_path: Path) -> None:
    (tmp_path / "patches" / "nothing").mkdir(parents=True)
    assert "no series file" in user_error(str(tmp_path / "patches" / "nothing"), tmp_path)
    msg = user_error("nope", tmp_path / "patches")
    assert "series 'nope' not found" in msg


def test_list_series(tmp_path: Path) -> None:
    patches = tmp_path / "patches"
    for name in ("b-quilt", "a-yaml", "c-fp", "not-a-series"):
        (patches / name).mkdir(parents=True)
    (patches / "b-quilt" / "series").write_text("")
    (patches / "a-yaml" / "series.yaml").write_text("")
    (patches / "c-fp" / "0001-x.patch").write_text(DIFF)
    (patches / "one.mbox").write_text("")
    assert list_series(patches) == ["a-yaml", "b-quilt", "c-fp", "one.mbox"]
    assert list_series(tmp_path / "missing") == []
