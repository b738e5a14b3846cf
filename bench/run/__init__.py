"""The run: a Plan, the pipeline and its stages (series, tree, slot, kconfig, build, vm, guests,
cases, oracles, result, junit, pages, coverage). Layer 3 of 5: cli -> drivers -> run -> report
-> base; nothing here imports a driver or the cli (tests/test_architecture.py)."""
