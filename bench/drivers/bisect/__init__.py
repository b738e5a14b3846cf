"""bench bisect: the first patch of a series, or commit of a range, that reproduces a failure."""
