"""``python -m translator``: see ``translator.cli``."""

from __future__ import annotations

import os
import sys

try:
    from translator.cli import EXIT_INTERRUPTED, interrupted, main
except KeyboardInterrupt:  # Ctrl-C before ``main`` can catch it: the same one line
    sys.stderr.write("interrupted\n")
    sys.exit(130)

try:
    code = main()
except KeyboardInterrupt:  # Ctrl-C between the command's end and here
    code = interrupted()
if code == EXIT_INTERRUPTED:
    # Interrupted: everything staged is already removed. Leave without the interpreter's
    # shutdown, where a framework's native handler can deliver the same Ctrl-C again and end
    # the process by the signal (exit -2) instead of 130.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
