"""``python -m translator``: see ``translator.cli``.

Ctrl-C in this process: SIGINT's handler removes every temporary file and directory the
command has made (``translator.outputs.PARTIALS``), says ``interrupted`` and exits 130 at
once. It raises nothing: a KeyboardInterrupt raised inside PyTorch's or TensorFlow's native
code can abort the process (C++ ``terminate``) or be delivered twice and end it by the
signal, instead of 130. (``translator.cli.main`` called in-process still turns a
KeyboardInterrupt into the same line and code.)
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

# The terminal's stderr, kept aside: the Keras backend points file descriptor 2 at
# /dev/null while TensorFlow loads, and a Ctrl-C then must still be said.
STDERR = os.dup(2)


def _interrupted(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C changes nothing now
    from translator.outputs import remove_partials

    remove_partials()
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(STDERR, b"interrupted\n")
    os._exit(130)


signal.signal(signal.SIGINT, _interrupted)

from translator.cli import main  # noqa: E402  (after the handler: importing takes seconds)

sys.exit(main())
