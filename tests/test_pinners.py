"""scripts/pinners.py on real excerpts of linux-source 6.12 (tests/data/pinners/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.pinners import (
    CallSite, Makefiles, calls, chain_text, clean, function_name, main, makefile_rules,
    parse_config, scan, state,
)

DATA = Path(__file__).resolve().parent / "data" / "pinners"
TREE = DATA / "tree"


def lines(name: str) -> list[str]:
    return (DATA / name).read_text().split("\n")


def sites(name: str) -> list[tuple[int, str, str]]:
    return [(s.line, s.function, s.api) for s in calls(lines(name), name)]


def test_prototypes_in_mm_h_are_not_calls_but_its_inline_callers_are() -> None:
    # include/linux/mm.h 2528-2650: 16 prototypes of the API, two static inline functions calling it
    assert sites("mm.h-2528-2650.h") == [
        (2560 - 2527, "get_user_page_vma_remote", "get_user_pages_remote"),
        (2644 - 2527, "get_user_page_fast_only", "get_user_pages_fast_only"),
    ]


def test_a_comment_naming_the_api_is_no_call() -> None:
    text = "\n".join(lines("mm.h-620-640.h"))
    assert "access_process_vm" in text and "get_user_pages()" in text  # the premise
    assert sites("mm.h-620-640.h") == []


def test_strings_naming_the_api_are_no_calls() -> None:
    # two calls of access_process_vm(), each followed by a pr_err("...access_process_vm() ...")
    assert sites("i915_gem_mman.c-1433-1502.c") == [
        (1468 - 1432, "__igt_mmap_access", "access_process_vm"),
        (1475 - 1432, "__igt_mmap_access", "access_process_vm"),
    ]


def test_enclosing_functions_of_gup_test() -> None:
    found = calls((TREE / "mm/gup_test.c").read_text().split("\n"), "mm/gup_test.c")
    by_function: dict[str, list[str]] = {}
    for s in found:
        by_function.setdefault(s.function, []).append(s.api)
    assert by_function == {
        "__gup_test_ioctl": ["get_user_pages_fast", "get_user_pages", "pin_user_pages_fast", "pin_user_pages",
                             "pin_user_pages", "pin_user_pages", "get_user_pages"],
        "pin_longterm_test_start": ["pin_user_pages_fast", "pin_user_pages"],
    }
    # the line numbers are the file's: mm/gup_test.c line 146 is pin_user_pages_fast
    assert CallSite("mm/gup_test.c", 146 - 99, "__gup_test_ioctl", "pin_user_pages_fast") in found


def test_bpf_call_and_syscall_macros_name_the_function() -> None:
    # kernel/bpf/helpers.c: an initializer's tail (`};` at file scope), then BPF_CALL_5(...)
    assert sites("helpers.c-670-700.c") == [(19, "bpf_copy_from_user_task", "access_process_vm")]
    # fs/splice.c line 1601
    assert function_name("SYSCALL_DEFINE4(vmsplice, int, fd, const struct iovec __user *, uiov,"
                         " unsigned long, nr_segs, unsigned int, flags)") == "sys_vmsplice"
    assert function_name("static const struct file_operations gup_test_fops =") is None
    assert function_name("static int __init gup_test_init(void)") == "gup_test_init"


def test_ifdef_around_a_call_is_its_condition() -> None:
    found = calls(lines("madvise.c-1146-1194.c"), "mm/madvise.c")
    assert [(s.function, s.api, s.cpp) for s in found] == [
        ("madvise_inject_error", "get_user_pages_fast", ("CONFIG_MEMORY_FAILURE",))]
    chain = ("CONFIG_MMU", "CONFIG_ADVISE_SYSCALLS")
    config = {"CONFIG_MMU": "y", "CONFIG_ADVISE_SYSCALLS": "y"}
    assert state(chain, found[0].cpp, "mm/madvise.c", config) == "n"
    assert state(chain, found[0].cpp, "mm/madvise.c", config | {"CONFIG_MEMORY_FAILURE": "y"}) == "y"
    assert state(chain, ("!CONFIG_MEMORY_FAILURE",), "mm/madvise.c", config) == "y"


def test_if_0_and_member_calls_are_skipped() -> None:
    text = ["#if 0", "static void a(void) { pin_user_pages(1, 2, 0, p); }", "#else",
            "static void b(void) { ops->get_user_pages(x); s.pin_user_pages_fast(y); get_user_pages(1, 2, 0, p); }",
            "#endif"]
    assert [(s.line, s.function, s.api) for s in calls(text)] == [(4, "b", "get_user_pages")]
    assert clean(text).conds[3] == ()  # the #else of `#if 0` names no symbol


def test_calls_in_a_macro_body_are_named_by_the_macro() -> None:
    # no macro of 6.12 calls the API (the census finds none): the shape of one, continuation lines
    text = ["#define PIN_ONE(addr, p) \\", "\tpin_user_pages_fast(addr, 1, FOLL_WRITE, p)", "#define X 1",
            "int x = X;"]
    assert [(s.line, s.function, s.api) for s in calls(text)] == [(2, "macro PIN_ONE", "pin_user_pages_fast")]


def test_makefile_composites_and_variables() -> None:
    rxe = makefile_rules((TREE / "drivers/infiniband/sw/rxe/Makefile").read_text().split("\n"))
    assert any(r.target == "obj" and r.conds == ("CONFIG_RDMA_RXE",) and "rdma_rxe.o" in r.items for r in rxe)
    assert any(r.target == "rdma_rxe" and "rxe_mr.o" in r.items for r in rxe)
    mm = makefile_rules((TREE / "mm/Makefile").read_text().split("\n"))
    # mm/Makefile: `ifdef CONFIG_CROSS_MEMORY_ATTACH` / `mmu-$(CONFIG_MMU) += process_vm_access.o`
    assert any(r.target == "mmu" and r.conds == ("CONFIG_CROSS_MEMORY_ATTACH", "CONFIG_MMU")
               and "process_vm_access.o" in r.items for r in mm)
    assert any(r.target == "mmu" and r.conds == ("CONFIG_MMU",) and "memory.o" in r.items for r in mm)
    assert any(r.target == "obj" and "mmu.o" in r.items for r in mm)  # obj-y += ... $(mmu-y)


def test_build_chains_of_real_makefiles() -> None:
    makefiles = Makefiles(TREE)
    assert makefiles.chain("drivers/infiniband/sw/rxe/rxe_mr.c") == ("CONFIG_INFINIBAND", "CONFIG_RDMA_RXE")
    assert makefiles.chain("mm/gup_test.c") == ("CONFIG_GUP_TEST",)
    assert makefiles.chain("mm/process_vm_access.c") == ("CONFIG_CROSS_MEMORY_ATTACH", "CONFIG_MMU")
    # kvm_main.o is named by virt/kvm/Makefile.kvm, which arch/x86/kvm/Makefile includes
    assert makefiles.chain("virt/kvm/kvm_main.c") == ("CONFIG_KVM", "CONFIG_KVM_X86")
    assert makefiles.chain("drivers/scsi/st.c") == ("CONFIG_CHR_DEV_ST",)
    assert makefiles.chain("drivers/nowhere/x.c") == ("?",)
    assert makefiles.chain("include/linux/mm.h") == ("header",)


def test_scan_a_small_tree_with_a_real_config() -> None:
    config = parse_config((DATA / "config-excerpt").read_text().split("\n"))
    assert config["CONFIG_RDMA_RXE"] == "y" and "CONFIG_SCSI" not in config
    rows = {(r.site.path, r.site.line): r for r in scan(TREE, config)}
    assert len(rows) == 14  # rxe 1, st 1, gup_test 9, kvm_main 3
    assert rows[("drivers/infiniband/sw/rxe/rxe_mr.c", 13)].on == "y"
    # st.c here has a form-feed line before the call: grep's line 36, not splitlines()' 37
    assert rows[("drivers/scsi/st.c", 36)].site.function == "sgl_map_user_pages"
    assert rows[("drivers/scsi/st.c", 36)].on == "n"
    assert {r.on for p, r in rows.items() if p[0] == "virt/kvm/kvm_main.c"} == {"n"}
    assert chain_text(rows[("mm/gup_test.c", 47)].chain) == "GUP_TEST"


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(TREE), "--config", str(DATA / "config-excerpt"), "--format", "md"]) == 0
    out = capsys.readouterr().out
    assert "| drivers/infiniband/sw/rxe/rxe_mr.c:13 | `rxe_mr_init_user` | `ib_umem_get` | INFINIBAND RDMA_RXE | y |" in out
    assert main([str(tmp_path)]) == 2
    assert "not a kernel tree" in capsys.readouterr().err
    assert main([str(TREE), "--config", str(tmp_path / "missing")]) == 2
