"""A progress bar for long runs, shown only to a person at a terminal.

Piped output, files and CI logs (``CI`` set) get nothing extra, so reports stay clean.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def interactive() -> bool:
    """True when stderr is a terminal and we are not in CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def progress(items: Sequence[T], what: str) -> Iterator[T]:
    """Yield ``items``, with a transient rich progress bar on stderr when interactive."""
    if len(items) < 2 or not interactive():
        yield from items
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn(f"{what}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True, redirect_stdout=False) as bar:
        task = bar.add_task(what, total=len(items))
        for item in items:
            yield item
            bar.advance(task)
