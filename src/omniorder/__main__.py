"""``python -m omniorder``: the command line."""

import sys

from omniorder.cli import main

if __name__ == "__main__":
    sys.exit(main())
