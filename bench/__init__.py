"""pinbench: decide whether a kernel patch series is safe to merge."""
