"""`bench run --each`: every prefix of a series built, booted and compared with the one before."""
