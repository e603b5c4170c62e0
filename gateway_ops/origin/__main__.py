"""``python -m gateway_ops.origin``: run the simulated origin from the command line."""

import sys

from .server import main

if __name__ == "__main__":
    sys.exit(main())
