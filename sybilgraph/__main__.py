"""``python -m sybilgraph``: the command line, as the ``sybilgraph`` script runs it."""

import sys

from sybilgraph.cli import main

sys.exit(main())
