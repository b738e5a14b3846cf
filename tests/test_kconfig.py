from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.base.errors import UserError
from bench.run import kconfig

HOME = Path(__file__).resolve().parent.parent
FAKELINUX = Path(__file__).parent / "fakelinux"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_every_shipped_fragment_parses() -> None:
    for path in (HOME / "kconfigs").glob("*.config"):
        frag = kconfig.parse_fragment(path)
        assert frag.options, path


def test_base_asks_for_what_vng_needs() -> None:
    base = {o.name: o.value for o in kconfig.find_fragment("base", HOME / "kconfigs").options}
    for name in ("CONFIG_9P_FS", "CONFIG_NET_9P_VIRTIO", "CONFIG_VIRTIO_CONSOLE", "CONFIG_SERIAL_8250_CONSOLE",
                 "CONFIG_INOTIFY_USER", "CONFIG_ACPI", "CONFIG_64BIT"):
        assert base[name] == "y", name


def test_bad_line_names_file_and_line(tmp_path: Path) -> None:
    frag = write(tmp_path / "x.config", "CONFIG_A=y\nCONFIG_B y\n")
    with pytest.raises(UserError, match=r"x\.config:2: not a kconfig line"):
        kconfig.parse_fragment(frag)


def test_unknown_fragment_lists_known(tmp_path: Path) -> None:
    write(tmp_path / "rdma.config", "CONFIG_INFINIBAND=y\n")
    with pytest.raises(UserError, match=r"nope\.config: no such kconfig fragment \(known: rdma\)"):
        kconfig.find_fragment("nope", tmp_path)


def test_later_fragment_wins_and_unset_means_n(tmp_path: Path) -> None:
    a = kconfig.parse_fragment(write(tmp_path / "a.config", "CONFIG_X=y\nCONFIG_Y=y\n"))
    b = kconfig.parse_fragment(write(tmp_path / "b.config", "# CONFIG_X is not set\n"))
    merged = kconfig.requested((a, b))
    assert merged["CONFIG_X"].value == "n" and merged["CONFIG_X"].source.name == "b.config"
    assert merged["CONFIG_Y"].value == "y"


def test_configure_reports_each_dropped_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frag = kconfig.parse_fragment(write(tmp_path / "rdma.config", "CONFIG_INFINIBAND=y\nCONFIG_RDMA_RXE=y\n"))
    monkeypatch.setenv("FAKE_KCONFIG_DROP", "CONFIG_RDMA_RXE")
    res = kconfig.configure(FAKELINUX, tmp_path / "build", (frag,), tmp_path / "config.log")
    assert res.rc == 0 and not res.ok
    assert [d.option.name for d in res.dropped] == ["CONFIG_RDMA_RXE"]
    text = kconfig.describe_dropped(res.dropped[0])
    assert "CONFIG_RDMA_RXE=y requested by rdma.config but .config has it not set" in text
    assert "merge_config.sh" in (tmp_path / "config.log").read_text()


def test_configure_ok(tmp_path: Path) -> None:
    frag = kconfig.parse_fragment(write(tmp_path / "a.config", "CONFIG_A=y\n# CONFIG_B is not set\n"))
    res = kconfig.configure(FAKELINUX, tmp_path / "build", (frag,), tmp_path / "config.log")
    assert res.ok and res.config.read_text() == "CONFIG_A=y\n"


def test_digest_is_of_the_merged_request(tmp_path: Path) -> None:
    a, b = tmp_path / "a.config", tmp_path / "b.config"
    a.write_text("CONFIG_A=y\n")
    b.write_text("CONFIG_B=y\n")
    fa, fb = kconfig.parse_fragment(a), kconfig.parse_fragment(b)
    assert kconfig.digest((fa, fb)) == kconfig.digest((fb, fa))  # order alone changes nothing
    b.write_text("CONFIG_A=n\nCONFIG_B=y\n")
    fb = kconfig.parse_fragment(b)
    assert kconfig.digest((fa, fb)) != kconfig.digest((fb, fa))  # ... unless a later one overrides


def test_defined_symbols_of_a_kconfig_file() -> None:
    lines = ["menuconfig INFINIBAND", "\ttristate \"x\"", "config RDMA_RXE  # soft-RoCE", "\tdepends on INFINIBAND",
             "if INFINIBAND", "  config GUP_TEST", "comment \"config NOT_ME\"", "# config NOR_ME"]
    assert kconfig.defined_symbols(lines) == {"INFINIBAND", "RDMA_RXE", "GUP_TEST"}


def test_a_dropped_symbol_the_tree_does_not_define(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "linux"
    shutil.copytree(FAKELINUX, src)
    (src / "drivers").mkdir()
    (src / "drivers" / "Kconfig.rxe").write_text("config RDMA_RXE\n\ttristate\n")
    (src / ".git").mkdir()
    (src / ".git" / "Kconfig").write_text("config IN_GIT\n")  # hidden folders are not the tree's
    frag = kconfig.parse_fragment(write(tmp_path / "f.config", "CONFIG_RDMA_RXE=y\nCONFIG_RDMA_RXEE=y\nCONFIG_IN_GIT=y\n"))
    monkeypatch.setenv("FAKE_KCONFIG_DROP", "CONFIG_RDMA_RXE")
    res = kconfig.configure(src, tmp_path / "build", (frag,), tmp_path / "config.log")
    assert [(d.option.name, d.defined) for d in res.dropped] == [("CONFIG_RDMA_RXE", True)]
    (src / "scripts" / "kconfig" / "merge_config.sh").write_text(': > "$3/.config"\n')  # every option dropped
    res = kconfig.configure(src, tmp_path / "build2", (frag,), tmp_path / "config.log")
    assert [(d.option.name, d.defined) for d in res.dropped] == [
        ("CONFIG_RDMA_RXE", True), ("CONFIG_RDMA_RXEE", False), ("CONFIG_IN_GIT", False)]
    assert kconfig.describe_dropped(res.dropped[1]) == (
        f"{tmp_path}/f.config:2: CONFIG_RDMA_RXEE is defined by no Kconfig file of this tree"
        " (a typo, or an option of another kernel version)")


@pytest.mark.parametrize(("diff", "touches"), [
    ("diff --git a/mm/Kconfig b/mm/Kconfig\n", True),
    ("--- a/lib/Kconfig.debug\n+++ b/lib/Kconfig.debug\n", True),
    ("+++ b/scripts/Kconfig.include\n", True),
    ("diff --git a/scripts/kconfig/confdata.c b/scripts/kconfig/confdata.c\n", True),
    ("diff --git a/mm/gup.c b/mm/gup.c\n+ * see mm/Kconfig\n", False),
    ("--- a/Documentation/kbuild/kconfig-language.rst\n", False),
    ("diff --git a/arch/x86/configs/x86_64_defconfig b/arch/x86/configs/x86_64_defconfig\n", False),
])
def test_touches_kconfig(diff: str, touches: bool) -> None:
    assert kconfig.touches_kconfig(["Subject: x\n\n", diff]) is touches
