"""``python -m translator``: see ``translator.cli``."""

from __future__ import annotations

import sys

from translator.cli import main

sys.exit(main())
