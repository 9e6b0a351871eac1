"""Writing the user's output files safely: checked first, written whole, or not at all.

Every path a command writes (``export --out DIR``, ``compare --format html --out DIR``,
``compare --plot FILE``) is checked before any work starts: not empty, its parent an
existing directory, never a symlink (nothing is written through a link to somewhere else),
and a directory only where a directory is meant. Files are then written under a fresh
temporary name in the same directory (so on the same filesystem) and moved into place with
``os.replace``; a whole export directory is staged next to its target and renamed into it.
A failure or an interrupt (Ctrl-C) on the way removes what was staged, so a command that
did not finish leaves nothing behind. A path that cannot be used, or a write that fails
(a full disk, say), is the user's to fix: ``OutputError``, one line, exit 2.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from translator.errors import InternalError, TranslatorError

PLOT_SUFFIXES = (".png", ".svg", ".pdf")  # what matplotlib's Agg backend writes itself


class OutputError(TranslatorError):
    """An output path the command will not write, or a write that failed. Template:
    ``error: <argument> <path>: <what is wrong>; <what is accepted>``."""


def refuse(argument: str, path: Path | str, problem: str, accepted: str) -> OutputError:
    """The one-line error about ``path``, given as ``argument``."""
    return OutputError(f"{argument} {str(path)!r}: {problem}; {accepted}")


def _parent_directory(argument: str, path: Path) -> None:
    """``path``'s parent must be an existing directory (nothing is created on the way)."""
    parent = Path(os.path.abspath(path)).parent  # "out/.." is in out's parent's parent
    if not parent.is_dir():
        problem = "its directory does not exist" if not parent.exists() else "not in a directory"
        raise refuse(argument, path, problem, f"create {str(path.parent)!r} first")


def _not_a_link(argument: str, path: Path) -> None:
    if path.is_symlink():
        raise refuse(argument, path, "is a symlink", "name a real path (links are not followed)")


def _nonempty(argument: str, text: str, kind: str) -> Path:
    if not text.strip():
        raise refuse(argument, text, "empty path", f"name a {kind}")
    return Path(text)


def check_file(
    argument: str, text: str, suffixes: Iterable[str] = (), new_parent: bool = False
) -> Path:
    """The file ``text`` names, fit to be (over)written: in an existing directory (or one
    the command creates first: ``new_parent``), no symlink, no directory, a regular file if
    it exists, and one of ``suffixes`` if given."""
    path = _nonempty(argument, text, "file")
    _not_a_link(argument, path)
    if path.is_dir():
        raise refuse(argument, path, "is a directory", "name a file in it")
    accepted = tuple(suffixes)
    if accepted and path.suffix.lower() not in accepted:
        raise refuse(argument, path, "unknown file type", f"name a {', '.join(accepted)} file")
    if path.exists() and not path.is_file():
        raise refuse(argument, path, "not a regular file", "name a regular file")
    if not new_parent:
        _parent_directory(argument, path)
    return path


def check_directory(argument: str, text: str) -> Path:
    """The directory ``text`` names, fit to write into: a real directory, or a new one in
    an existing directory."""
    path = _nonempty(argument, text, "directory")
    _not_a_link(argument, path)
    if not Path(os.path.abspath(path)).name:
        raise refuse(argument, path, "the root directory", "name a directory below it")
    if path.exists() and not path.is_dir():
        raise refuse(argument, path, "not a directory", "name a directory, new or existing")
    _parent_directory(argument, path)
    return path


def check_own_files(argument: str, directory: Path, names: Iterable[str]) -> None:
    """Each of ``names`` in ``directory`` is absent or a regular file (no link, no directory)."""
    for name in names:
        path = directory / name
        _not_a_link(argument, path)
        if path.exists() and not path.is_file():
            raise refuse(argument, path, "not a regular file", "move it away first")


# Every temporary file and directory that exists right now, so that the command line's
# Ctrl-C handler can remove them before it exits (``remove_partials``).
PARTIALS: set[Path] = set()


def remove_partials() -> None:
    """Remove every temporary file or directory still in ``PARTIALS``."""
    for partial in list(PARTIALS):
        if partial.is_dir() and not partial.is_symlink():
            shutil.rmtree(partial, ignore_errors=True)
        else:
            partial.unlink(missing_ok=True)
        PARTIALS.discard(partial)


def _fresh(path: Path, make: bool) -> Path:
    """A new, unused name next to ``path`` (a hidden ``.partial``), made as a directory
    (``make``) or an empty file, with the usual permissions (the umask applies)."""
    path = Path(os.path.abspath(path))
    for _ in range(100):
        fresh = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
        PARTIALS.add(fresh)  # before it exists: an interrupt in between still removes it
        try:
            if make:
                fresh.mkdir()
            else:
                os.close(os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return fresh
        except FileExistsError:
            PARTIALS.discard(fresh)
            continue
    raise InternalError(f"no free temporary name next to {path}")


def fresh_file(path: Path) -> Path:
    """An empty temporary file next to ``path``, with the usual permissions, listed in
    ``PARTIALS`` (an interrupt removes it); rename it to ``path`` once written."""
    return _fresh(path, make=False)


def _write_error(path: Path, exc: OSError) -> OutputError:
    why = exc.strerror or str(exc)
    return OutputError(f"cannot write {str(path)!r}: {why}; choose a writable place with room")


def write_whole(contents: dict[Path, bytes]) -> None:
    """Write every file of ``contents`` or none: each to a temporary name next to it, then
    all moved into place. On a failure or an interrupt the temporary files are removed."""
    staged: dict[Path, Path] = {}
    try:
        for path, data in contents.items():
            staged[path] = _fresh(path, make=False)
            staged[path].write_bytes(data)
        for path, partial in staged.items():
            os.replace(partial, path)
    except OSError as exc:
        raise _write_error(path, exc) from exc
    finally:
        for partial in staged.values():
            partial.unlink(missing_ok=True)
            PARTIALS.discard(partial)


@contextlib.contextmanager
def new_directory(path: Path) -> Iterator[None]:
    """Create ``path`` if missing; if the block fails, remove it again (when empty)."""
    created = not path.exists()
    if created:
        path.mkdir()
    try:
        yield
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                path.rmdir()
        raise


@contextlib.contextmanager
def staged_directory(argument: str, out: Path, own: Iterable[str]) -> Iterator[Path]:
    """A fresh directory next to ``out`` to write into; when the block ends, its files
    (each one of ``own``) replace ``out``'s of the same names, and ``own`` files the block
    did not write are removed from ``out``; a new ``out`` is the staged directory renamed.
    If the block fails or is interrupted, the staged directory is removed: nothing changes."""
    own = tuple(own)
    stage = _fresh(out, make=True)
    try:
        yield stage
        stray = sorted(p.name for p in stage.iterdir() if p.name not in own)
        if stray:
            raise InternalError(f"export wrote {stray}, not among its own files {list(own)}")
        if out.exists():
            _replace_own_files(argument, stage, out, own)
        else:
            os.rename(stage, out)
    except OSError as exc:
        raise _write_error(out, exc) from exc
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        PARTIALS.discard(stage)


def _replace_own_files(argument: str, stage: Path, out: Path, own: tuple[str, ...]) -> None:
    check_own_files(argument, out, own)  # again: the directory may have changed meanwhile
    for name in own:
        if (stage / name).exists():
            os.replace(stage / name, out / name)
        else:  # an earlier export's file this one did not write: it would not match
            (out / name).unlink(missing_ok=True)
