"""Named, invertible array transforms for the weight maps (``translator.weights.maps``).

A ``Map`` takes one array to one array (``transpose``, ``reorder_gates``, ``reshape``, and
chains of them) and ``undo`` reverses it exactly. A ``Combine`` makes one framework tensor
from several canonical ones (``one``, ``pack``, ``fold``, ``zeros``) and ``inverse`` gives
them back; ``fold`` (a sum) is the one that loses information, by nature. numpy is imported
inside the functions that move arrays, so importing this module costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Shape = tuple[int, ...]


class Map:
    """A one-source transform: ``apply`` (canonical → framework) and its exact ``undo``."""

    def apply(self, a: Any) -> Any:
        return a

    def undo(self, a: Any) -> Any:
        return a

    def out_shape(self, shape: Shape) -> Shape:
        return shape

    def describe(self, source: str) -> str:
        return source

    def describe_undo(self, target: str) -> str:
        return target


SAME = Map()


@dataclass(frozen=True)
class Transpose(Map):
    """Permute the axes (``None``: reverse them, a matrix transpose)."""

    perm: tuple[int, ...] | None = None

    def _perm(self, rank: int) -> tuple[int, ...]:
        return self.perm if self.perm is not None else tuple(reversed(range(rank)))

    def apply(self, a: Any) -> Any:
        return a.transpose(self._perm(a.ndim))

    def undo(self, a: Any) -> Any:
        perm = self._perm(a.ndim)
        return a.transpose(sorted(range(len(perm)), key=perm.__getitem__))

    def out_shape(self, shape: Shape) -> Shape:
        return tuple(shape[i] for i in self._perm(len(shape)))

    def describe(self, source: str) -> str:
        perm = "" if self.perm is None else f", {list(self.perm)}"
        return f"transpose({source}{perm})"

    def describe_undo(self, target: str) -> str:
        if self.perm is None:
            return f"transpose({target})"
        inverse = sorted(range(len(self.perm)), key=self.perm.__getitem__)
        return f"transpose({target}, {inverse})"


@dataclass(frozen=True)
class Gates(Map):
    """Reorder the gate blocks of the last axis from order ``src`` to ``dst`` (one letter a
    gate, in a common alphabet: LSTM i f c o, GRU z r h)."""

    src: str
    dst: str

    @staticmethod
    def _move(a: Any, src: str, dst: str) -> Any:
        import numpy as np

        blocks = np.split(a, len(src), axis=-1)
        return np.concatenate([blocks[src.index(g)] for g in dst], axis=-1)

    def apply(self, a: Any) -> Any:
        return self._move(a, self.src, self.dst)

    def undo(self, a: Any) -> Any:
        return self._move(a, self.dst, self.src)

    def describe(self, source: str) -> str:
        return f"reorder_gates({source}, {self.src!r} → {self.dst!r})"

    def describe_undo(self, target: str) -> str:
        return f"reorder_gates({target}, {self.dst!r} → {self.src!r})"


@dataclass(frozen=True)
class Chain(Map):
    """Several maps, applied left to right."""

    maps: tuple[Map, ...]

    def apply(self, a: Any) -> Any:
        for m in self.maps:
            a = m.apply(a)
        return a

    def undo(self, a: Any) -> Any:
        for m in reversed(self.maps):
            a = m.undo(a)
        return a

    def out_shape(self, shape: Shape) -> Shape:
        for m in self.maps:
            shape = m.out_shape(shape)
        return shape

    def describe(self, source: str) -> str:
        for m in self.maps:
            source = m.describe(source)
        return source

    def describe_undo(self, target: str) -> str:
        for m in reversed(self.maps):
            target = m.describe_undo(target)
        return target


@dataclass(frozen=True)
class Reshape(Map):
    """The same values in row-major order under another shape (Keras reshapes a multi-axis
    LayerNormalization gamma to its broadcast shape; the others keep the axes sorted)."""

    to: Shape
    back: Shape

    def apply(self, a: Any) -> Any:
        return a.reshape(self.to)

    def undo(self, a: Any) -> Any:
        return a.reshape(self.back)

    def out_shape(self, shape: Shape) -> Shape:
        return self.to

    def describe(self, source: str) -> str:
        return f"reshape({source}, {self.to})"

    def describe_undo(self, target: str) -> str:
        return f"reshape({target}, {self.back})"


@dataclass(frozen=True)
class FlatRows(Map):
    """The rows of a (features, units) kernel reading a Flatten: from the spec's order (the
    row-major flatten of ``shape``) to the order of the same tensor flattened with its axes
    permuted by ``order`` (channels first in PyTorch and ONNX), so the data never moves."""

    shape: Shape
    order: Shape

    def _moved(self, a: Any, order: Shape, shape: Shape) -> Any:
        units = a.shape[1:]
        grid = a.reshape(*shape, *units)
        moved = grid.transpose(*order, *range(len(order), len(order) + len(units)))
        return moved.reshape(a.shape)

    def apply(self, a: Any) -> Any:
        return self._moved(a, self.order, self.shape)

    def undo(self, a: Any) -> Any:
        back = tuple(sorted(range(len(self.order)), key=self.order.__getitem__))
        return self._moved(a, back, tuple(self.shape[i] for i in self.order))

    def describe(self, source: str) -> str:
        return f"flat_rows({source}, {self.shape} → axes {list(self.order)})"

    def describe_undo(self, target: str) -> str:
        return f"flat_rows⁻¹({target}, {self.shape} → axes {list(self.order)})"


def gated(src: str, dst: str, *maps: Map) -> Map:
    """Gate reorder (when the orders differ) followed by ``maps``."""
    chain = ((Gates(src, dst),) if src != dst else ()) + maps
    return chain[0] if len(chain) == 1 else Chain(chain) if chain else SAME


class Combine:
    """A many-source transform: ``forward`` makes the target from the sources, ``inverse``
    gives the sources back from the target."""

    def forward(self, sources: list[Any], shape: Shape) -> Any:
        raise NotImplementedError

    def inverse(self, target: Any, shapes: list[Shape]) -> list[Any]:
        raise NotImplementedError

    def describe(self, sources: tuple[str, ...]) -> str:
        raise NotImplementedError

    def describe_inverse(self, target: str, sources: tuple[str, ...]) -> str:
        """How the sources are read back from ``target``."""
        raise NotImplementedError


@dataclass(frozen=True)
class One(Combine):
    """One source through a ``Map``."""

    map: Map = SAME

    def forward(self, sources: list[Any], shape: Shape) -> Any:
        return self.map.apply(sources[0])

    def inverse(self, target: Any, shapes: list[Shape]) -> list[Any]:
        return [self.map.undo(target)]

    def describe(self, sources: tuple[str, ...]) -> str:
        return self.map.describe(sources[0])

    def describe_inverse(self, target: str, sources: tuple[str, ...]) -> str:
        return f"{sources[0]} = {self.map.describe_undo(target)}"


@dataclass(frozen=True)
class Pack(Combine):
    """Each source through ``map``, flattened and concatenated in order, reshaped to the
    target (ONNX's ``W`` stacks directions; ``B`` is ``[Wb, Rb]`` per direction)."""

    map: Map = SAME

    def forward(self, sources: list[Any], shape: Shape) -> Any:
        import numpy as np

        flat = [self.map.apply(s).reshape(-1) for s in sources]
        return np.concatenate(flat).reshape(shape)

    def inverse(self, target: Any, shapes: list[Shape]) -> list[Any]:
        import numpy as np

        mapped = [self.map.out_shape(s) for s in shapes]
        cuts = np.cumsum([int(np.prod(s)) for s in mapped])[:-1]
        parts = np.split(target.reshape(-1), cuts)
        return [self.map.undo(p.reshape(s)) for p, s in zip(parts, mapped, strict=True)]

    def describe(self, sources: tuple[str, ...]) -> str:
        return "pack(" + ", ".join(self.map.describe(s) for s in sources) + ")"

    def describe_inverse(self, target: str, sources: tuple[str, ...]) -> str:
        return f"{', '.join(sources)} = unpack({target}), each {self.map.describe_undo('·')}"


@dataclass(frozen=True)
class Fold(Combine):
    """The sum of the sources (Keras's single RNN bias = input + recurrent bias). Not
    invertible: the inverse puts the sum in the first source and zeros in the others."""

    def forward(self, sources: list[Any], shape: Shape) -> Any:
        total = sources[0].copy()
        for s in sources[1:]:
            total = total + s
        return total

    def inverse(self, target: Any, shapes: list[Shape]) -> list[Any]:
        import numpy as np

        return [target, *(np.zeros(s, target.dtype) for s in shapes[1:])]

    def describe(self, sources: tuple[str, ...]) -> str:
        return "fold(" + " + ".join(sources) + ")"

    def describe_inverse(self, target: str, sources: tuple[str, ...]) -> str:
        rest = ", ".join(f"{s} = 0" for s in sources[1:])
        return f"{sources[0]} = {target}, {rest} (one bias kept: the sum)"


@dataclass(frozen=True)
class Zeros(Combine):
    """No source: a PyTorch buffer that is bookkeeping, not a weight (set to zero on import,
    left out of the canonical weights on export)."""

    dtype: str = "int64"
    why: str = ""

    def forward(self, sources: list[Any], shape: Shape) -> Any:
        import numpy as np

        return np.zeros(shape, self.dtype)

    def inverse(self, target: Any, shapes: list[Shape]) -> list[Any]:
        return []

    def describe(self, sources: tuple[str, ...]) -> str:
        return f"0 ({self.why})"

    def describe_inverse(self, target: str, sources: tuple[str, ...]) -> str:
        return f"{target} not carried ({self.why})"
