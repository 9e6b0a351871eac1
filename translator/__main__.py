"""``python -m translator``: see ``translator.cli``."""

from __future__ import annotations

import sys

try:
    from translator.cli import main
except KeyboardInterrupt:  # Ctrl-C before ``main`` can catch it: the same one line
    sys.stderr.write("interrupted\n")
    sys.exit(130)

sys.exit(main())
