"""The drivers: each runs the run (bench/run/) more than once and compares, or checks the
machine (doctor). Layer 2 of 5: cli -> drivers -> run -> report -> base; a driver imports
no other driver but nightly, which runs the others (tests/test_architecture.py)."""
