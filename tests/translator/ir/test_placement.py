"""The layout pass, framework-free: where 1-D convolution data run channels first and where a
sequence is converted (only where a layer's result depends on the axis order)."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from translator.ir import Graph
from translator.spec.loader import load, load_text

SEQUENCE = "name: s\ninputs: [{name: x, shape: [16, 3]}]\nlayers:\n"


def _graph(*layers: str) -> Graph:
    return load_text(SEQUENCE + "".join(f"  - {layer}\n" for layer in layers))


def _runs(graph: Graph) -> dict[str, tuple[str, tuple]]:
    """Per layer: the layout it runs in and the conversions of its inputs."""
    return {n.name: (n.placement.runs.kind, n.placement.converts) for n in graph.layers}


def test_a_1d_cnn_runs_channels_first_without_a_conversion() -> None:
    graph = load(str(ROOT / "specs" / "signal_cnn.yaml"))
    runs = _runs(graph)
    assert all(converts == (None,) for _, converts in runs.values())
    assert {kind for name, (kind, _) in runs.items() if name != "dense"} == {"natural"}
    assert graph.node("conv1d").physical_args["data_format"] == "channels_first"
    assert graph.node("batch_normalization").physical_args["axis"] == 1


@pytest.mark.parametrize(
    ("reader", "converted"),
    [
        ("{type: LSTM, units: 4}", (0, 2, 1)),  # reads (batch, time, features)
        ("{type: Dense, units: 4}", (0, 2, 1)),  # on the last axis: the features
        ("{type: MaxPooling1D}", None),  # a 1-D window layer: channels first as well
        ("{type: ReLU}", None),  # element by element
        ("{type: UpSampling1D}", None),  # no data_format, told channels_first
        ("{type: Cropping1D}", None),
        ("{type: ZeroPadding1D}", None),
    ],
)
def test_a_sequence_leaving_a_1d_convolution_moves_only_where_it_must(
    reader: str, converted: tuple | None
) -> None:
    graph = _graph("{type: Conv1D, filters: 5, kernel_size: 3}", reader)
    (kind, converts) = _runs(graph)[graph.layers[1].name]
    assert converts == (converted,)
    assert kind == ("spec" if converted else "natural")


def test_recurrent_sequences_pooled_in_1d_keep_their_layout() -> None:
    graph = _graph(
        "{type: LSTM, units: 4, return_sequences: true}", "{type: GlobalAveragePooling1D}"
    )
    assert all(kind == "spec" and converts == (None,) for kind, converts in _runs(graph).values())


def test_a_flatten_after_1d_convolutions_leaves_the_order_to_the_dense() -> None:
    graph = _graph(
        "{type: Conv1D, filters: 5, kernel_size: 3}", "{type: Flatten}", "{type: Dense, units: 2}"
    )
    flat = graph.node("flatten").placement.output
    assert (flat.kind, flat.shape, flat.order) == ("flat", (14, 5), (1, 0))
    assert _runs(graph)["dense"] == ("flat", (None,))
