"""Shared test setup: quiet, deterministic frameworks and markers derived from the path.

Tests under ``tests/backends/<fw>/`` get the ``<fw>`` marker, so ``pytest -m "not torch"``
works; tests that build in all three frameworks carry ``frameworks`` themselves.

Everything under ``tests/backends/`` and ``tests/end_to_end/`` gets the ``slow`` marker (they
import frameworks); the few heavy framework-free tests elsewhere carry it themselves. The fast
tier, ``pytest -m "not slow"`` (``make test-fast``), does not even collect those directories,
and fails if it ends with a framework imported.
"""

from __future__ import annotations

import itertools
import os
import sys
from functools import partial
from pathlib import Path

import pytest
from hypothesis import settings

# The fuzzers draw the same examples on every run, so a failure in CI reproduces here; set
# HYPOTHESIS_PROFILE=explore to draw new examples while hunting for bugs.
settings.register_profile("suite", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

# Before any framework is imported: quiet TensorFlow, deterministic oneDNN kernels.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
ZOO = sorted((ROOT / "specs" / "zoo").glob("*.yaml"))
# Zoo models whose whole models do not fit in a test's memory (25 GB of weights per framework):
# compared once per distinct layer (tests/end_to_end/test_materialize.py), never built whole.
TOO_BIG = ("llama2_7b",)
FRAMEWORK_DIRS = ("keras", "torch", "onnx")
# Test directories whose every test is slow: they import a framework.
SLOW_DIRS = (ROOT / "tests" / "backends", ROOT / "tests" / "end_to_end")
# The modules the fast tier must never load.
FRAMEWORK_MODULES = ("torch", "tensorflow", "keras", "onnxruntime")
_FAST_ONLY = pytest.StashKey[bool]()  # set once collected: no selected test is slow


def path_markers(path: Path) -> set[str]:
    """The markers every test under ``path`` gets from where it lives."""
    marks = set()
    if any(path == d or d in path.parents for d in SLOW_DIRS):
        marks.add("slow")
    parts = path.relative_to(ROOT).parts
    if len(parts) > 2 and parts[:2] == ("tests", "backends") and parts[2] in FRAMEWORK_DIRS:
        marks.add(parts[2])
    return marks


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for mark in sorted(path_markers(Path(str(item.fspath)))):
            item.add_marker(getattr(pytest.mark, mark))


def _no_test_can_match(markexpr: str, forced: set[str]) -> bool:
    """True when no test carrying the markers ``forced`` can match ``-m markexpr``, whatever
    other markers it has (every assignment of the expression's other names is tried)."""
    from _pytest.mark.expression import Expression  # pytest's own -m parser

    expr = Expression.compile(markexpr)
    free = sorted(expr.idents() - forced)
    if len(free) > 10:
        return False
    for values in itertools.product((False, True), repeat=len(free)):
        true = forced | {n for n, v in zip(free, values, strict=True) if v}
        try:
            if expr.evaluate(partial(_has_marker, true)):
                return False
        except ValueError:
            return False
    return True


def _has_marker(marks: set[str], name: str, /, **kwargs: object) -> bool:
    if kwargs:
        raise ValueError(name)  # marker arguments: do not try to be clever
    return name in marks


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip importing a slow directory (and the frameworks it imports) when ``-m`` deselects
    every test in it anyway, so that ``-m "not slow"`` imports no framework."""
    markexpr = config.getoption("markexpr")
    if (
        markexpr
        and collection_path in SLOW_DIRS
        and _no_test_can_match(markexpr, path_markers(collection_path))
    ):
        return True
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[_FAST_ONLY] = bool(session.items) and not any(
        item.get_closest_marker("slow") for item in session.items
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run with no slow test (the fast tier) fails if it loaded a framework."""
    if not session.config.stash.get(_FAST_ONLY, False):
        return
    loaded = [m for m in FRAMEWORK_MODULES if m in sys.modules]
    if loaded:
        sys.stderr.write(
            f"\nThe fast tier (no slow test selected) imported {', '.join(loaded)}: mark the "
            "test that needs it slow, or import the framework lazily.\n"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _pin_torch_numerics() -> None:
    """TF32 off and a fixed seed whenever PyTorch is already loaded (never imports it)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.manual_seed(0)
