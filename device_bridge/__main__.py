"""``python -m device_bridge ...`` is ``fieldops bridge ...``."""

import sys

from device_bridge.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
