"""``python -m translator``: see ``translator.cli``."""

from __future__ import annotations

import os
import signal
import sys

try:
    from translator.cli import EXIT_INTERRUPTED, interrupted, main
except KeyboardInterrupt:  # Ctrl-C before ``main`` can catch it: the same one line
    sys.stderr.write("interrupted\n")
    sys.exit(130)

code = None
try:
    code = main()
except KeyboardInterrupt:  # a Ctrl-C delivered (again) as ``main`` returned
    if code is None:
        code = interrupted()
if code == EXIT_INTERRUPTED:
    # Everything staged is already removed. Ignore a second delivery of the same Ctrl-C and
    # leave without the interpreter's shutdown, where a framework's native handler could end
    # the process by the signal (exit -2) instead of 130.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
