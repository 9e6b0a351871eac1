"""Reading a canonical ``.npz`` with bounded memory, every member checked before its data.

A ``.npz`` is a zip archive of ``.npy`` members. For each member, the zip directory gives
its declared uncompressed size and the first bytes its ``.npy`` header (shape, dtype,
Fortran order). All headers are checked against the spec's canonical shapes, and each
member's declared size against what its header says, before any tensor data is read: a
header declaring a 160 GB tensor, or a small compressed member inflating to a gigabyte
(a zip bomb), is refused in one line, and nothing larger than the expected tensors is read.
No pickle: object arrays are refused from their header.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from translator.errors import WeightsError
from translator.weights.validate import check_dtype

MAX_HEADER = 10_000  # numpy's own limit on a .npy header (max_header_size)
NPY_MAGIC = b"\x93NUMPY"
# What reading a damaged archive or .npy header can raise (zlib: a corrupt deflate stream;
# NotImplementedError: an unknown compression method; RuntimeError: an encrypted member).
READ_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    TypeError,
    SyntaxError,
    RecursionError,
    RuntimeError,
    NotImplementedError,
    zipfile.BadZipFile,
    zlib.error,
)


@dataclass(frozen=True)
class Member:
    """One ``.npy`` member as its header declares it."""

    info: zipfile.ZipInfo
    key: str
    shape: tuple[int, ...]
    dtype: Any
    fortran: bool
    offset: int  # where the data starts in the uncompressed member

    @property
    def nbytes(self) -> int:
        count = 1
        for d in self.shape:
            count *= d
        return count * self.dtype.itemsize


def _not_a_zip(path: str) -> WeightsError:
    with open(path, "rb") as handle:
        start = handle.read(len(NPY_MAGIC))
    if start == NPY_MAGIC:
        why = "a single .npy array, not a .npz archive; write the canonical tensors with np.savez"
    else:
        why = "not a .npz archive (a zip of .npy arrays, as np.savez writes)"
    return WeightsError(path, why)


def _header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> Member:
    """A member's ``.npy`` header, reading (and inflating) only the header's bytes."""
    import numpy as np

    key = info.filename.removesuffix(".npy")
    if not info.filename.endswith(".npy") or info.is_dir():
        raise WeightsError(source, f"member '{info.filename}' is not a .npy array")
    with archive.open(info) as handle:
        version = np.lib.format.read_magic(handle)
        read = _header_reader(version, source, info.filename)
        shape, fortran, dtype = read(handle, max_header_size=MAX_HEADER)
        offset = _tell(handle)
    check_dtype(dtype, source, key)
    return Member(info, key, tuple(int(d) for d in shape), dtype, bool(fortran), offset)


def _header_reader(version: tuple[int, int], source: str, name: str) -> Any:
    import numpy as np

    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    if version not in readers:
        raise WeightsError(source, f"member '{name}': .npy format {version}; accepted: 1.0, 2.0")
    return readers[version]


def _tell(handle: IO[bytes]) -> int:
    return int(handle.tell())


def read_headers(path: str | Path) -> tuple[zipfile.ZipFile, list[Member]]:
    """The open archive and every member's header (the caller closes the archive)."""
    source = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise _not_a_zip(source) from None
    except READ_ERRORS as exc:
        raise WeightsError(source, f"not a readable .npz archive ({_gist(exc)})") from None
    try:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise WeightsError(source, f"member '{twice[0]}' appears twice; each tensor once")
        return archive, [_header(archive, i, source) for i in infos]
    except WeightsError:  # a ValueError too: before READ_ERRORS
        archive.close()
        raise
    except READ_ERRORS as exc:
        archive.close()
        raise WeightsError(source, f"not a readable .npz archive ({_gist(exc)})") from None


def check_sizes(members: list[Member], source: str) -> None:
    """Each member's declared uncompressed size is exactly its header plus its data."""
    for m in members:
        declared = m.offset + m.nbytes
        if m.info.file_size != declared:
            raise WeightsError(
                source,
                f"member '{m.info.filename}' declares shape {m.shape} {m.dtype.name}"
                f" ({declared} bytes with its header) but holds {m.info.file_size} bytes;"
                " accepted: a .npy array as np.savez writes it",
            )


def read_member(archive: zipfile.ZipFile, m: Member, source: str) -> Any:
    """The member's array, reading exactly its declared bytes (zip checks the CRC)."""
    import numpy as np

    try:
        with archive.open(m.info) as handle:
            handle.read(m.offset)
            data = handle.read(m.nbytes)
            handle.read(1)  # at the end: zipfile checks the CRC-32 here
    except READ_ERRORS as exc:
        raise WeightsError(
            source, f"member '{m.info.filename}' cannot be read ({_gist(exc)})"
        ) from None
    if len(data) != m.nbytes:
        raise WeightsError(source, f"member '{m.info.filename}' is cut short")
    array = np.frombuffer(data, dtype=m.dtype)
    return array.reshape(m.shape, order="F" if m.fortran else "C")


def _gist(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
