"""The command line: the only users of argparse (bench/cli/main.py is the entry point)."""
