"""``python -m translator``: see ``translator.cli``."""

from __future__ import annotations

import sys

try:
    from translator.cli import interrupted, main
except KeyboardInterrupt:  # Ctrl-C before ``main`` can catch it: the same one line
    sys.stderr.write("interrupted\n")
    sys.exit(130)

try:
    code = main()
except KeyboardInterrupt:  # Ctrl-C between the command's end and here
    code = interrupted()
sys.exit(code)
