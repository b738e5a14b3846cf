"""Regenerate the series fixtures in this folder with real `git format-patch`.

    python tests/data/series/regen.py

The patches sit on top of conftest.make_kernel_repo(), whose commit ids are fixed, so the
base-commit: lines here match the repo the tests build.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/, for conftest

from conftest import FAKE_KERNEL, commit_files, git, make_kernel_repo  # noqa: E402

GUP = FAKE_KERNEL["mm/gup.c"] + "\nvoid unpin_user_page(void *page)\n{\n}\n"
FAST_V1 = "\nlong pin_user_pages_fast(unsigned long start, int nr)\n{\n\treturn nr;\n}\n"
FAST_V2 = ("\nlong pin_user_pages_fast(unsigned long start, int nr)\n{\n"
           "\treturn nr > 0 ? nr : -1;\n}\n")
DECL = "long pin_user_pages_fast(unsigned long start, int nr);\n"
DOC = ("Fake pinning\n============\n\n"
       "pin_user_pages_fast() pins nothing; it returns nr.\n")
SEP = re.compile(r"^From [0-9a-f]{40} Mon Sep 17 00:00:00 2001\n", re.M)
LORE_SEP = "From mboxrd@z Thu Jan  1 00:00:00 1970\n"


def make_branch(repo: Path, name: str, fast: str) -> None:
    git(repo, "checkout", "-q", "-b", name, "master")
    commit_files(repo, {"mm/gup.c": GUP + fast}, "mm/gup: add pin_user_pages_fast()\n\n"
                 "A fast variant for the bench fixtures.\n\nSigned-off-by: Jane Pinner "
                 "<jane@example.org>")
    git(repo, "commit", "-q", "--amend", "--no-edit", "--author=Jane Pinner <jane@example.org>")
    mm_h = FAKE_KERNEL["include/linux/mm.h"].replace("\n\n#endif", "\n" + DECL + "\n#endif")
    commit_files(repo, {"include/linux/mm.h": mm_h}, "mm: declare pin_user_pages_fast()\n\n"
                 "Signed-off-by: Zoë Pinner <zoe@example.org>")
    git(repo, "commit", "-q", "--amend", "--no-edit", "--author=Zoë Pinner <zoe@example.org>")
    commit_files(repo, {"Documentation/core-api/fake-pin.rst": DOC},
                 "Documentation: describe fake pinning\n\n"
                 "From the user's point of view nothing is pinned.\n\n"
                 "Signed-off-by: Jane Pinner <jane@example.org>")
    git(repo, "commit", "-q", "--amend", "--no-edit", "--author=Jane Pinner <jane@example.org>")


def format_patch(repo: Path, branch: str, *extra: str) -> list[str]:
    """Messages of `git format-patch --cover-letter --stdout`, cover letter filled in."""
    base = git(repo, "rev-parse", "master").strip()
    out = git(repo, "format-patch", "--cover-letter", f"--base={base}", "--stdout",
              *extra, f"master..{branch}")
    out = fill_cover(out)
    starts = [m.start() for m in SEP.finditer(out)] + [len(out)]
    return [out[a:b] for a, b in zip(starts, starts[1:])]


def fill_cover(text: str) -> str:
    text = text.replace("*** SUBJECT HERE ***", "mm/gup: fake fast pinning")
    return text.replace("*** BLURB HERE ***", "Adds pin_user_pages_fast() to the fake kernel.")


def reply(subject: str, body: str) -> str:
    return (f"{LORE_SEP}From: Rev Iewer <rev@example.org>\nDate: Tue, 2 Jan 2024 10:00:00 +0000\n"
            f"Subject: Re: {subject}\nIn-Reply-To: <fixture@example.org>\n\n{body}\n")


def noise_mbox(msgs: list[str]) -> str:
    """Lore-style mboxrd: patches interleaved with replies, ">From " quoting in bodies."""
    lore = [SEP.sub("", m) for m in msgs]
    lore = [LORE_SEP + re.sub(r"^(>*From )", r">\1", m, flags=re.M) for m in lore]
    quoted = "\n".join("> " + ln for ln in lore[2].splitlines()[5:12])
    inline = ("Something like this?\n\n---\ndiff --git a/mm/gup.c b/mm/gup.c\n"
              "--- a/mm/gup.c\n+++ b/mm/gup.c\n@@ -1,1 +1,1 @@\n-#include <linux/mm.h>\n"
              "+#include <linux/mm.h> /* reply */\n")
    return "".join([
        lore[0], reply("[PATCH 0/3] mm/gup: fake fast pinning", "Reviewed-by: Rev Iewer"),
        lore[1], reply("[PATCH 1/3] mm/gup: add pin_user_pages_fast()", inline),
        lore[2], reply("[PATCH 2/3] mm: declare pin_user_pages_fast()", quoted + "\n\nNit."),
        lore[3],
    ])


def quilt_dir(repo: Path, out: Path) -> None:
    out.mkdir()
    base = git(repo, "rev-parse", "master").strip()
    git(repo, "checkout", "-q", "--detach", "master")
    (repo / "mm/gup.c").write_text("/* Fake GUP. */\n" + GUP)
    diff = git(repo, "diff", "--src-prefix=linux.orig/", "--dst-prefix=linux/")
    git(repo, "checkout", "-q", "--", ".")
    # Turn the git diff into quilt's own style: Index: line, no diff --git/index lines.
    diff = re.sub(r"^diff --git .*\nindex .*\n", "Index: linux/mm/gup.c\n" + "=" * 67 + "\n",
                  diff, flags=re.M)
    (out / "01-gup-comment.patch").write_text(
        "mm/gup: say what this file is\n\nA header comment.\n\n"
        "Signed-off-by: Quilt User <quilt@example.org>\n---\n" + diff)
    mail = git(repo, "format-patch", "--no-numbered", "--stdout", "-1", "v1~1")
    (out / "02-declare.patch").write_text(mail)
    (out / "series").write_text(
        "# fake quilt series for the pinbench tests\n01-gup-comment.patch -p1\n\n"
        "# a mail-style patch from git format-patch\n02-declare.patch   # trailing comment\n")
    (out / "series.yaml").write_text(
        f"description: |\n  A header-less quilt patch and a mail patch.\nbase: {base}\n"
        "kconfigs: [debug-vm]\nworkloads:\n  - smoke\nsuppress:\n  - '^WARNING: .* at mm/gup.c'\n")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_kernel_repo(Path(tmp) / "linux")
        make_branch(repo, "v1", FAST_V1)
        make_branch(repo, "v2", FAST_V2)
        v1 = format_patch(repo, "v1")
        v2 = format_patch(repo, "v2", "-v2")
        (HERE / "cover-3.mbox").write_text("".join(v1))
        (HERE / "v2.mbox").write_text("".join([v2[0], v2[2], v2[3], v2[1]]))  # out of order
        (HERE / "missing-2.mbox").write_text("".join([v1[0], v1[1], v1[3]]))
        (HERE / "noise.mbox").write_text(noise_mbox(v1))
        for name in ("quilt", "fp"):
            shutil.rmtree(HERE / name, ignore_errors=True)
        quilt_dir(repo, HERE / "quilt")
        git(repo, "format-patch", "-q", "--cover-letter", "--base=master", "-o",
            str(HERE / "fp"), "master..v1")
        cover = HERE / "fp" / "0000-cover-letter.patch"
        cover.write_text(fill_cover(cover.read_text()))


if __name__ == "__main__":
    main()
