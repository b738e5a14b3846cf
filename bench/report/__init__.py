"""Kernel reports: the oops table, the scanner, known reports and their rendering."""
