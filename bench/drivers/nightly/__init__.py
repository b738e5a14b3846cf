"""bench nightly: a matrix of series x kconfig sets, one night folder, compared with the nights before."""
