"""The zoo, built for real in Keras, PyTorch and ONNX: every published figure is what each
framework measures on the model it really built, and every difference is explained."""

from __future__ import annotations

import pytest

from tests.conftest import TOO_BIG, ZOO
from tests.translator.ir.test_zoo_counts import PUBLISHED
from translator.commands.compare import compare_report
from translator.spec.loader import load

pytestmark = pytest.mark.frameworks
WHOLE = [s for s in ZOO if s.stem not in TOO_BIG]


@pytest.mark.parametrize("spec", WHOLE, ids=[s.stem for s in WHOLE])
def test_zoo_model_measures_as_published(spec) -> None:
    report = compare_report(load(str(spec)), materialize="full")
    assert report.failures == []
    assert report.unexplained_total == 0
    for fw, (total, trainable) in PUBLISHED.get(spec.stem, {}).items():
        assert report.totals[fw]["total"] == total, fw
        if trainable is not None:
            assert report.totals[fw]["trainable"] == trainable, fw
