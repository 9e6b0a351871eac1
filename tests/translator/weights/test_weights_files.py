"""Canonical ``.npz`` weights files that do not fit, through the CLI and with numpy alone.

Each bad file is one line ``error: <file>: ...`` on stderr, exit 2, nothing on stdout, and
is refused before any framework is imported (the fast tier fails otherwise). A mutated
file (truncated, bytes flipped, a header's shape or dtype rewritten) either loads or is
refused in one line: never a traceback, a hang or a huge allocation.
"""

from __future__ import annotations

import io
import os
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT
from translator.cli import main
from translator.commands.port import random_canonical
from translator.errors import WeightsError
from translator.spec.loader import load
from translator.weights.files import load_canonical, origin, readable_file, save_canonical

SEED = str(ROOT / "specs" / "seed_lstm.yaml")
GRAPH = load(SEED)
GOOD = random_canonical(GRAPH, seed=0)


def _npy(array: Any = None, header: dict[str, Any] | None = None, data: bytes = b"") -> bytes:
    """A ``.npy`` member: ``array`` as numpy writes it, or ``header`` followed by ``data``."""
    out = io.BytesIO()
    if header is None:
        np.lib.format.write_array(out, np.asarray(array), allow_pickle=True)
    else:
        np.lib.format.write_array_header_1_0(out, header)
        out.write(data)
    return out.getvalue()


def _npz(path: Path, members: dict[str, bytes], compress: bool = False) -> Path:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _good_members(**replace: bytes) -> dict[str, bytes]:
    return {f"{k}.npy": _npy(v) for k, v in GOOD.items()} | replace


def _empty(path: Path) -> Path:
    return _npz(path, {})


def _npy_named_npz(path: Path) -> Path:
    path.write_bytes(_npy(GOOD["lstm/kernel"]))
    return path


def _strings(path: Path) -> Path:
    return _npz(path, _good_members(**{"lstm/kernel.npy": _npy(np.full((1, 40), "x"))}))


def _complex(path: Path) -> Path:
    value = GOOD["lstm/kernel"].astype(np.complex64) + 1j
    return _npz(path, _good_members(**{"lstm/kernel.npy": _npy(value)}))


def _objects(path: Path) -> Path:
    value = np.empty((1, 40), dtype=object)
    return _npz(path, _good_members(**{"lstm/kernel.npy": _npy(value)}))


def _huge_header(path: Path) -> Path:
    """A 268-byte-ish member whose header declares a 160 GB float32 tensor."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (200000, 200000)}
    return _npz(path, _good_members(**{"lstm/kernel.npy": _npy(header=header)}))


def _short_data(path: Path) -> Path:
    header = {"descr": "<f4", "fortran_order": False, "shape": (1, 40)}
    member = _npy(header=header, data=bytes(4 * 39))
    return _npz(path, _good_members(**{"lstm/kernel.npy": member}))


def _small_bomb(path: Path) -> Path:
    """The right header, then 16 MiB of zeros that deflate to a few KiB."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (1, 40)}
    member = _npy(header=header, data=bytes(2**24))
    return _npz(path, _good_members(**{"lstm/kernel.npy": member}), compress=True)


def _not_npy(path: Path) -> Path:
    return _npz(path, _good_members(**{"readme.txt": b"hello"}))


def _twice(path: Path) -> Path:
    again = ("lstm/kernel.npy", _npy(GOOD["lstm/kernel"]))
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "w") as archive:
        for name, data in [*_good_members().items(), again]:
            archive.writestr(name, data)
    return path


def _wrong_key(path: Path) -> Path:
    members = _good_members()
    members["lstm/kernal.npy"] = members.pop("lstm/kernel.npy")
    return _npz(path, members)


# (build the bad file, what its one line must say after "error: <file>: ")
BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "empty": (_empty, "empty .npz (no arrays); expected the spec's 6 canonical tensors"),
    "npy_named_npz": (_npy_named_npz, "a single .npy array, not a .npz archive; write"),
    "strings": (_strings, "tensor 'lstm/kernel' holds strings (<U1); accepted: float32"),
    "complex": (_complex, "tensor 'lstm/kernel' holds complex numbers (their imaginary part"),
    "objects": (_objects, "tensor 'lstm/kernel' holds Python objects (object); accepted"),
    "huge_header": (
        _huge_header,
        "layer 'lstm' tensor 'kernel' (canonical): expected shape (1, 40), received (200000, 200000)",
    ),
    "short_data": (_short_data, "member 'lstm/kernel.npy' declares shape (1, 40) float32"),
    "small_zip_bomb": (_small_bomb, "member 'lstm/kernel.npy' declares shape (1, 40) float32"),
    "not_npy": (_not_npy, "member 'readme.txt' is not a .npy array"),
    "twice": (_twice, "member 'lstm/kernel.npy' appears twice; each tensor once"),
    "wrong_key": (_wrong_key, "layer 'lstm': missing tensor 'kernel' (canonical)"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
@pytest.mark.parametrize("command", ["port", "export"])
def test_bad_npz_is_one_line_and_exit_2(
    case: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build, said = BAD_FILES[case]
    path = build(tmp_path / "w.npz")
    out = tmp_path / "out"
    argv = {
        "port": ["port", SEED, "--from", "keras", "--weights", str(path)],
        "export": ["export", SEED, "--out", str(out), "--weights", str(path)],
    }[command]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {path}: {said}"), captured.err
    assert captured.err.count("\n") == 1
    assert not out.exists()  # nothing written


@pytest.mark.slow
def test_zip_bomb_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    """A 1 MiB member inflating to 1 GiB: refused from its declared size, never inflated."""
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in GOOD.items():
            if key != "lstm/kernel":
                archive.writestr(f"{key}.npy", _npy(value))
        with archive.open("lstm/kernel.npy", "w", force_zip64=True) as member:
            header = {"descr": "<f4", "fortran_order": False, "shape": (1, 40)}
            np.lib.format.write_array_header_1_0(member, header)
            for _ in range(64):
                member.write(bytes(2**24))
    assert path.stat().st_size < 2**21
    tracemalloc.start()
    try:
        with pytest.raises(WeightsError, match="declares shape"):
            load_canonical(GRAPH, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**22


@pytest.mark.parametrize(
    ("dtype", "note"),
    [
        ("float64", "float64 → float32"),
        ("float16", "float16 → float32"),
        ("int16", "int16 → float32"),
        ("float32", None),
    ],
)
def test_lossless_dtypes_load_as_float32_with_a_note(
    dtype: str, note: str | None, tmp_path: Path
) -> None:
    values = {k: np.round(v * 8).astype(dtype) for k, v in GOOD.items()}
    save_canonical(tmp_path / "w.npz", values)
    notes: list[str] = []
    loaded = load_canonical(GRAPH, tmp_path / "w.npz", notes)
    assert all(v.dtype == np.float32 for v in loaded.values())
    assert all(np.array_equal(loaded[k], v.astype(np.float32)) for k, v in values.items())
    assert notes == ([note] * len(values) if note else [])
    expected = f"w.npz (canonical; {note} (6 tensors))" if note else "w.npz (canonical)"
    assert origin("w.npz", "canonical", notes) == expected


def test_integers_float32_cannot_hold_are_refused(tmp_path: Path) -> None:
    values = {k: np.ones(v.shape, np.int64) for k, v in GOOD.items()}
    values["lstm/kernel"][0, 0] = 2**24 + 1
    save_canonical(tmp_path / "w.npz", values)
    with pytest.raises(WeightsError, match=r"tensor 'lstm/kernel' holds int64 values beyond"):
        load_canonical(GRAPH, tmp_path / "w.npz")


def test_fortran_order_members_load_as_written(tmp_path: Path) -> None:
    values = {k: np.asfortranarray(v) for k, v in GOOD.items()}
    save_canonical(tmp_path / "w.npz", values)
    loaded = load_canonical(GRAPH, tmp_path / "w.npz")
    assert all(np.array_equal(loaded[k], v) for k, v in GOOD.items())


def _good_bytes(compress: bool) -> bytes:
    out = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for name, data in _good_members().items():
            archive.writestr(name, data)
    return out.getvalue()


GOOD_FILES = {False: _good_bytes(False), True: _good_bytes(True)}


def _mutate(data: bytes, how: str, at: int, value: int) -> bytes:
    at %= len(data)
    if how == "truncate":
        return data[:at]
    if how == "flip":
        return data[:at] + bytes([data[at] ^ (value or 1)]) + data[at + 1 :]
    if how == "shape":  # every declared shape rewritten
        return data.replace(b"(1, 40)", f"({value}, 40)".encode()[:7].ljust(7))
    return data.replace(b"'<f4'", [b"'<c8'", b"'|O8'", b"'<U4'", b"'<f8'", b"'>f4'"][value % 5])


@settings(
    max_examples=300,
    deadline=None,  # timing varies on a shared CI machine; the test bounds memory instead
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    compress=st.booleans(),
    how=st.sampled_from(["truncate", "flip", "shape", "dtype"]),
    at=st.integers(min_value=0, max_value=10**6),
    value=st.integers(min_value=0, max_value=255),
)
def test_mutated_npz_loads_or_is_one_line(
    tmp_path: Path, compress: bool, how: str, at: int, value: int
) -> None:
    path = tmp_path / "m.npz"
    path.write_bytes(_mutate(GOOD_FILES[compress], how, at, value))
    try:
        loaded = load_canonical(GRAPH, path)
    except WeightsError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(f"{path}: ")
    else:
        assert {k: v.shape for k, v in loaded.items()} == {k: v.shape for k, v in GOOD.items()}
        assert all(v.dtype == np.float32 for v in loaded.values())


def _directory(path: Path) -> None:
    path.mkdir()


def _device(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _pipe(path: Path) -> None:
    os.mkfifo(path)


@pytest.mark.parametrize("make", [_directory, _device, _pipe], ids=["directory", "device", "pipe"])
def test_a_weights_path_that_is_not_a_regular_file_is_one_line(
    tmp_path: Path, make: Callable[[Path], None]
) -> None:
    path = tmp_path / "w.npz"
    make(path)
    with pytest.raises(WeightsError, match="not a regular file"):
        readable_file(path)
