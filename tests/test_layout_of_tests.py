"""The test tree itself (framework-free): test files have unique names, mirror the package they
test, import as packages, and the fast tier's modules import no framework."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

from tests.conftest import FRAMEWORK_DIRS, FRAMEWORK_MODULES, ROOT, SLOW_DIRS

TESTS = ROOT / "tests"
TEST_FILES = sorted(TESTS.rglob("test_*.py"))


def test_no_two_test_files_share_a_name() -> None:
    """pytest's rootdir-relative module names stay unambiguous, and a failure's file name alone
    says which test failed."""
    repeated = {n: c for n, c in Counter(p.name for p in TEST_FILES).items() if c > 1}
    assert repeated == {}, sorted(
        str(p.relative_to(ROOT)) for p in TEST_FILES if p.name in repeated
    )


def test_every_test_directory_is_a_package() -> None:
    dirs = {p.parent for p in TESTS.rglob("*.py")}
    missing = sorted(str(d.relative_to(ROOT)) for d in dirs if not (d / "__init__.py").exists())
    assert missing == []


def test_translator_tests_mirror_the_package() -> None:
    """``tests/translator/<pkg>/`` tests ``translator/<pkg>/``."""
    dirs = {p.parent for p in (TESTS / "translator").rglob("test_*.py")}
    for d in sorted(dirs):
        package = ROOT / d.relative_to(TESTS)
        assert (package / "__init__.py").exists(), f"{d.relative_to(ROOT)} mirrors no package"


def test_backend_tests_mirror_the_backend_modules() -> None:
    """``tests/backends/<fw>/test_<fw>_<module>.py`` tests ``backends/<fw>/<module>.py``."""
    for fw in FRAMEWORK_DIRS:
        for path in sorted((TESTS / "backends" / fw).glob("test_*.py")):
            prefix = f"test_{fw}_"
            assert path.stem.startswith(prefix), path.name
            module = ROOT / "backends" / fw / f"{path.stem.removeprefix(prefix)}.py"
            assert module.exists(), f"{path.relative_to(ROOT)}: no {module.relative_to(ROOT)}"


def _top_level_imports(path: Path) -> set[str]:
    """The root package of every import at a module's top level (not inside functions)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_fast_tier_modules_import_no_framework() -> None:
    """Outside the slow directories, no test module (nor the modules it imports from
    ``tests``) loads a framework when imported; conftest fails the fast tier if one did."""
    fast = [
        p
        for p in sorted(TESTS.rglob("*.py"))
        if not any(d in p.parents for d in SLOW_DIRS)
        and p.name != "harness.py"
        # The toy layer's modules are imported only by a slow test's fresh process.
        and TESTS / "fixtures" not in p.parents
    ]
    banned = {*FRAMEWORK_MODULES, "onnx"}
    found = {str(p.relative_to(ROOT)): _top_level_imports(p) & banned for p in fast}
    assert {k: v for k, v in found.items() if v} == {}
