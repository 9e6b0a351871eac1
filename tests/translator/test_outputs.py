"""``translator.outputs``: files written whole or not at all, and an export directory staged
next to its target, which a failure or an interrupt leaves exactly as it was."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from tests.translator.commands.test_export_paths import snapshot
from translator.errors import InternalError
from translator.outputs import OutputError, new_directory, staged_directory, write_whole

OWN = ("model.py", "weights.npz")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _no_partials(root: Path) -> bool:
    return not any(".partial" in name for name in snapshot(root))


class Boom(Exception):
    pass


@pytest.mark.parametrize("raised", [Boom, KeyboardInterrupt])
@pytest.mark.parametrize("existing", [False, True])
def test_a_failed_staging_changes_nothing(raised: type, existing: bool, tmp_path: Path) -> None:
    out = tmp_path / "out"
    if existing:
        out.mkdir()
        (out / "model.py").write_text("old")
        (out / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    with pytest.raises(raised), staged_directory("--out", out, OWN) as stage:
        (stage / "model.py").write_text("new")
        raise raised
    assert snapshot(tmp_path) == before


def test_a_new_directory_is_the_stage_renamed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with staged_directory("--out", out, OWN) as stage:
        (stage / "model.py").write_text("new")
    assert snapshot(tmp_path) == {"out": "dir", "out/model.py": b"new"}
    assert out.stat().st_mode & 0o777 == 0o777 & ~_umask()


def test_an_existing_directory_gets_only_our_files_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name, text in {"model.py": "old", "weights.npz": "stale", "notes.txt": "mine"}.items():
        (out / name).write_text(text)
    with staged_directory("--out", out, OWN) as stage:
        (stage / "model.py").write_text("new")
    # weights.npz was not written this time: an older one would not match model.py.
    assert snapshot(tmp_path) == {"out": "dir", "out/model.py": b"new", "out/notes.txt": b"mine"}


def test_a_file_not_our_own_is_a_bug(tmp_path: Path) -> None:
    with (
        pytest.raises(InternalError, match=r"export wrote \['other.txt'\]"),
        staged_directory("--out", tmp_path / "out", OWN) as stage,
    ):
        (stage / "other.txt").write_text("?")
    assert snapshot(tmp_path) == {}


def test_write_whole_writes_every_file_with_the_usual_permissions(tmp_path: Path) -> None:
    (tmp_path / "b.html").write_text("old")
    write_whole({tmp_path / "a.png": b"png", tmp_path / "b.html": b"new"})
    assert snapshot(tmp_path) == {"a.png": b"png", "b.html": b"new"}
    assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o666 & ~_umask()


@pytest.mark.parametrize("failing", [0, 1])
def test_write_whole_writes_none_when_one_write_fails(
    failing: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "b.html").write_text("old")
    before = snapshot(tmp_path)
    targets = [tmp_path / "a.png", tmp_path / "b.html"]
    real = Path.write_bytes
    calls = []

    def write_bytes(self: Path, data: bytes) -> int:
        calls.append(self)
        if len(calls) > failing:
            real(self, data[:1])  # a part written, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    with pytest.raises(OutputError) as caught:
        write_whole(dict.fromkeys(targets, b"data"))
    assert str(caught.value) == (
        f"cannot write {str(targets[failing])!r}: No space left on device;"
        " choose a writable place with room"
    )
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("raised", [Boom, KeyboardInterrupt])
def test_new_directory_is_removed_when_the_block_fails(raised: type, tmp_path: Path) -> None:
    with pytest.raises(raised), new_directory(tmp_path / "pages"):
        raise raised
    assert snapshot(tmp_path) == {}
