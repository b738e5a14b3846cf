"""Which changed lines ran: gcov of the objects a series touches, mapped to its changed lines.

objects: which objects to profile and the scoped make variables that do it; changed: the
series' post-image lines (git blame of base..head); gcov: Debian's gcov --json-format over the
counters the guest saved; mapping: each changed line's status; text: what the report says;
stage: the run's coverage step.
"""
