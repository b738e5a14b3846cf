"""`python3 -m bench`: the same as the `bench` console script."""

import sys

from bench.cli.main import main

sys.exit(main())
