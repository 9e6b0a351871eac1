"""What every backend shares: the builder registry and the measurement records.

A backend builds a real model from the IR (``build``), measures the tensors that model really
holds, per IR layer and in total, through the framework's own API (``measure``), and runs it
(``run``). The translator then checks each measurement against the IR's prediction.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from translator.errors import UnsupportedInBackend
from translator.ops import FAMILIES  # importing it fills SCHEMAS, which the registries check
from translator.registry import Registry
from translator.spec.schema import SCHEMAS

B = TypeVar("B", bound=Callable[..., Any])


class BuilderRegistry(Generic[B]):
    """One backend's builders, keyed by canonical layer type, plus its declared gaps.

    ``@BUILDERS.register("LSTM")`` adds a builder; ``BUILDERS.unsupported("X", reason)``
    declares a layer type this framework cannot build, with the reason shown to users.
    A type may be in one or the other, never both, never twice.
    """

    def __init__(self, framework: str) -> None:
        self.framework = framework
        self.builders: Registry[B] = Registry(f"{framework} builder")
        self.gaps: Registry[str] = Registry(f"{framework} unsupported")

    def register(self, *types: str) -> Callable[[B], B]:
        for type_ in types:
            self._check_free(type_)
        return self.builders.register(*types)

    def unsupported(self, type_: str, reason: str) -> None:
        if not reason.strip():
            raise ValueError(f"{self.framework}: unsupported {type_!r} needs a reason")
        self._check_free(type_)
        self.gaps.add(type_, reason)

    def _check_free(self, type_: str) -> None:
        if type_ not in SCHEMAS:
            raise KeyError(f"{self.framework}: {type_!r} is not a layer type in the schema")
        if type_ in self.builders or type_ in self.gaps:
            raise KeyError(f"{self.framework}: {type_!r} is registered twice")

    def __getitem__(self, type_: str) -> B:
        if type_ in self.gaps:
            raise UnsupportedInBackend(self.framework, type_, self.gaps[type_])
        return self.builders[type_]

    def covers(self, type_: str) -> bool:
        return type_ in self.builders or type_ in self.gaps


@dataclass(frozen=True)
class MeasuredTensor:
    """One tensor found on the real model object, named as the IR's ``WeightSpec`` names it."""

    name: str
    shape: tuple[int, ...]
    trainable: bool = True
    buffer: bool = False

    @property
    def key(self) -> tuple[str, tuple[int, ...], bool, bool]:
        return (self.name, self.shape, self.trainable, self.buffer)


@dataclass
class Built:
    """A real model built from a graph. ``unsupported`` maps layer name → reason; when it is
    not empty the layers that could be built are measurable but the model cannot run."""

    framework: str
    graph: Any  # translator.ir.Graph
    model: Any  # keras.Model | torch.nn.Module | onnx.ModelProto
    unsupported: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # backend-private state (sessions, ...)


@dataclass
class Measurement:
    """What a framework reports for a built model.

    ``layers`` has an entry for every IR node (inputs too, empty) that was built:
    ``(tensors, counts)``, where counts come from the framework's own API (Keras
    ``layer.count_params()``, PyTorch ``parameters()``/``buffers()``, ONNX initializers) in the
    contract's shape. ``totals`` is the same for the whole model object.
    """

    framework: str
    layers: dict[str, tuple[tuple[MeasuredTensor, ...], dict[str, int]]]
    totals: dict[str, int]


def load_families(package: str) -> None:
    """Import ``<package>.<family>`` for every layer family of ``translator.ops.FAMILIES``
    (the one list of families), so that each runs its registrations."""
    for family in FAMILIES:
        importlib.import_module(f"{package}.{family}")
