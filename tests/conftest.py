"""Shared fixtures: a tiny, deterministic fake kernel git repo."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

# Fixed identity and dates: the same files give the same commit ids on every machine, so
# the committed mbox fixtures' base-commit: matches a freshly made repo.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Fake Dev", "GIT_AUTHOR_EMAIL": "dev@example.org",
    "GIT_COMMITTER_NAME": "Fake Dev", "GIT_COMMITTER_EMAIL": "dev@example.org",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+0000",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}

FAKE_KERNEL = {
    "Makefile": "VERSION = 6\nPATCHLEVEL = 12\n\nall:\n\t@echo fake kernel\n",
    "include/linux/mm.h": "#ifndef _LINUX_MM_H\n#define _LINUX_MM_H\n\n"
                          "long pin_user_pages(unsigned long start, int nr);\n\n#endif\n",
    "mm/gup.c": "#include <linux/mm.h>\n\n"
                "long pin_user_pages(unsigned long start, int nr)\n{\n\treturn nr;\n}\n",
}


def git(repo: Path, *args: str) -> str:
    """Run git in repo with the fixed test identity; return stdout."""
    cp = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                        env={**os.environ, **GIT_ENV})
    if cp.returncode:
        raise AssertionError(f"git {' '.join(args)} failed: {cp.stderr}")
    return cp.stdout


def commit_files(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def make_kernel_repo(path: Path) -> Path:
    """A 2-commit "kernel": Makefile, include/linux/mm.h, mm/gup.c; branch master."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "master")
    commit_files(path, FAKE_KERNEL, "Initial fake kernel")
    gup = FAKE_KERNEL["mm/gup.c"] + "\nvoid unpin_user_page(void *page)\n{\n}\n"
    commit_files(path, {"mm/gup.c": gup}, "mm/gup: add unpin_user_page()")
    return path


@pytest.fixture
def kernel_repo(tmp_path: Path) -> Path:
    return make_kernel_repo(tmp_path / "linux")
