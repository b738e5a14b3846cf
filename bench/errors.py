"""The two roots of every error the bench reports (user input vs. the machine)."""

from __future__ import annotations


class BenchError(Exception):
    """An error that ends a command with a one-line message and exit code 2."""

    exit_code = 2


class UserError(BenchError):
    """Bad input: a file, flag or name the user gave. The message names it."""


class InfraError(BenchError):
    """The machine failed us: a tool is missing, a VM would not start, a disk filled."""
