"""``--map FILE``: renames of a weights file's keys, for a checkpoint whose names are not the
spec's (``port --weights``, ``export --weights``).

The file is a YAML mapping ``old: new``. A key ending in ``.`` renames every key that starts
with it (a module path: ``encoder.layer.: blocks_``); any other key renames that one key.
The exact rename wins, then the longest prefix. State dicts (``.pt``) and ``.safetensors``
are read through it; the renames are active only while the command reads its weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from translator.errors import WeightsError

_ACTIVE: ContextVar[dict[str, str]] = ContextVar("renames", default={})  # noqa: B039
ACCEPTED = "a YAML mapping of old key (or prefix ending in '.') to new key"


def read_map(path: str | Path) -> dict[str, str]:
    """The renames in ``path``, checked: text keys and values, nothing else."""
    import yaml

    source = str(path)
    try:
        table = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        said = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(
            source, f"not a readable rename map ({said}); accepted: {ACCEPTED}"
        ) from None
    if not isinstance(table, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in table.items()
    ):
        raise WeightsError(source, f"not a rename map; accepted: {ACCEPTED}")
    return table


@contextmanager
def renaming(table: dict[str, str]) -> Iterator[None]:
    """Read weights through ``table`` inside the ``with`` block."""
    token = _ACTIVE.set(dict(table))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def renamed(key: str) -> str:
    """``key`` as the active renames say (unchanged when none applies)."""
    table = _ACTIVE.get()
    if not table:
        return key
    if key in table:
        return table[key]
    prefixes = [p for p in table if p.endswith(".") and key.startswith(p)]
    if not prefixes:
        return key
    longest = max(prefixes, key=len)
    return table[longest] + key[len(longest) :]
