"""The translator's small exception hierarchy.

``SpecError`` and its subclasses are the spec author's mistakes: the CLI prints each as one
line ``FILE:LINE:COL: error: <what is wrong>; <what is accepted>`` and exits with code 2.
``BackendError`` and its subclasses are failures while building or measuring a real model.
``InternalError`` is a bug in the translator itself, never the user's fault.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A position in a spec file; ``line`` and ``column`` are 1-based."""

    file: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class TranslatorError(Exception):
    """Base class of every error the translator raises on purpose."""


class SpecError(TranslatorError, ValueError):
    """A problem in a spec. Template: ``FILE:LINE:COL: error: {message}; {accepted}``."""

    def __init__(self, location: Location, message: str, accepted: str = "") -> None:
        self.location = location
        self.message = message
        self.accepted = accepted
        super().__init__(self.render())

    def render(self) -> str:
        """The one-line form shown to the spec's author."""
        text = f"{self.location}: error: {self.message}"
        text = f"{text}; {self.accepted}" if self.accepted else text
        # One line, always: control characters from the spec are shown escaped.
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)

    def __str__(self) -> str:
        return self.render()


class SpecSyntaxError(SpecError):
    """The file is not a readable YAML document (template: ``...: error: invalid YAML: ...``)."""


class UnknownLayerType(SpecError, LookupError):
    """``type:`` names no known layer (template: ``unknown layer type 'X'; did you mean ...``)."""


class UnknownArgument(SpecError, LookupError):
    """A layer got an argument its type does not take (template names the accepted ones)."""


class InvalidArgumentValue(SpecError):
    """An argument has the wrong type or an out-of-range value (template shows ``Received:``)."""


class InvalidReference(SpecError, LookupError):
    """``inputs:`` or ``outputs:`` name something that is not (yet) defined."""


class ShapeError(SpecError):
    """A layer cannot take the shape it receives (template shows the shapes involved)."""


class BudgetExceeded(SpecError):
    """The spec is larger than a size budget allows (template: ``the spec expands to more than
    {budget} layers (budget): {what reaches it}; {how to stay within it}``). Loading stops
    there: nothing after it is checked."""


class SpecErrors(TranslatorError, ValueError):
    """Several spec problems found in one pass; ``errors`` holds each ``SpecError``."""

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = errors
        super().__init__("\n".join(e.render() for e in errors))


class BackendError(TranslatorError, RuntimeError):
    """A framework failed to build, run or measure a model."""


class InternalError(TranslatorError, RuntimeError):
    """A bug in the translator, never the spec author's mistake: a registry missing a piece,
    a weight map that disagrees with the IR, a wrapper node without its wrapped layer. The
    message names the layer type or layer and what is inconsistent."""


class WeightsError(TranslatorError, ValueError):
    """Weights that do not fit the spec: a missing, unknown or wrong-shaped tensor, or an
    unreadable weights file. Template (one line): ``{source}: layer '{layer}' tensor
    '{tensor}': expected shape {expected}, received {received}``; the CLI exits 2."""

    def __init__(
        self,
        source: str,
        message: str,
        layer: str = "",
        tensor: str = "",
        expected: tuple[int, ...] | None = None,
        received: tuple[int, ...] | None = None,
    ) -> None:
        self.source = source
        self.layer = layer
        self.tensor = tensor
        self.expected = expected
        self.received = received
        # Every key the file lacks and every key it holds that nothing reads, one per line,
        # for ``--verbose`` (the message itself names the first few).
        self.details: list[str] = []
        text = f"{source}: {message}" if source else message
        # One line, always: names from a weights file are shown escaped.
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in text))


class TooLarge(TranslatorError, MemoryError):
    """A command would need more memory than is available, estimated from the IR before
    anything is allocated. Template (one line): ``{file}: {command} needs about {size}
    ({what}); {limit} available; {way out}``; the CLI exits 2."""


class UnsupportedInBackend(TranslatorError, NotImplementedError):
    """A framework cannot build this layer (with these arguments); ``reason`` says why."""

    def __init__(self, framework: str, layer_type: str, reason: str) -> None:
        self.framework = framework
        self.layer_type = layer_type
        self.reason = reason
        super().__init__(f"{framework} cannot build {layer_type}: {reason}")


def closest(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates closest to ``word`` (case-insensitive), best first."""
    pool = sorted(set(candidates))
    lowered = {c.lower(): c for c in pool}
    hits = difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=0.5)
    return [lowered[h] for h in hits]


def suggestion(word: str, candidates: Iterable[str], what: str) -> str:
    """``did you mean 'X'?`` when something is close, else the full list of accepted names."""
    pool = sorted(set(candidates))
    near = closest(word, pool)
    if near:
        return "did you mean " + " or ".join(repr(c) for c in near) + "?"
    return f"accepted {what}: " + (", ".join(pool) or "none")
