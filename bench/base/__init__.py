"""The base helpers: errors, files, subprocesses, limits, formats, the YAML loader, the results
folder's names, case keys. Layer 5 of 5: they import nothing of bench but each other
(tests/test_architecture.py)."""
