"""Benchmark: ``python -m translator.bench SPEC...`` (``make bench``).

Measures what the README reports:

* ``count``: load + IR count per spec, against a bare ``yaml.safe_load`` of the same file
  (the target: about the cost of parsing the YAML; no framework imported).
* ``compare``: build + forward pass + measure in Keras, PyTorch and ONNX per spec, once the
  frameworks are imported, against a plain hand-written script that builds, runs and counts
  the seed model in the three frameworks (target: at most 1.5x).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from functools import partial

import yaml

from translator.commands.compare import compare_report, count_report
from translator.spec.loader import load


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    """The fastest of ``repeat`` runs, in seconds (the least disturbed by the machine)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def load_and_count(path: str) -> object:
    """What ``translator count`` does for one spec file."""
    return count_report(load(path))


def hand_written_seed(np_inputs: object) -> None:
    """The seed model written by hand in each framework: build, one forward pass, count."""
    import keras
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper

    x = np.asarray(np_inputs, dtype=np.float32)
    inp = keras.Input((None, 1))
    out = keras.layers.TimeDistributed(keras.layers.Dense(1))(
        keras.layers.LSTM(10, return_sequences=True)(inp)
    )
    model = keras.Model(inp, out)
    model(x, training=False)
    model.count_params()

    class Seed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(1, 10, batch_first=True)
            self.dense = torch.nn.Linear(10, 1)

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return self.dense(self.lstm(t)[0])

    net = Seed().eval()
    with torch.no_grad():
        net(torch.from_numpy(x))
    sum(p.numel() for p in net.parameters())

    rng = np.random.default_rng(0)
    inits = [
        helper.make_tensor(
            n, TensorProto.FLOAT, s, rng.standard_normal(s).astype(np.float32).ravel()
        )
        for n, s in (
            ("W", (1, 40, 1)),
            ("R", (1, 40, 10)),
            ("B", (1, 80)),
            ("D", (10, 1)),
            ("b", (1,)),
        )
    ]
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
        helper.make_node("LSTM", ["xt", "W", "R", "B"], ["y"], hidden_size=10),
        helper.make_node("Squeeze", ["y", "one"], ["ys"]),
        helper.make_node("Transpose", ["ys"], ["yb"], perm=[1, 0, 2]),
        helper.make_node("MatMul", ["yb", "D"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["out"]),
    ]
    inits.append(helper.make_tensor("one", TensorProto.INT64, (1,), [1]))
    graph = helper.make_graph(
        nodes,
        "seed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", "t", 1])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", "t", 1])],
        inits,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    session.run(None, {"x": x})
    sum(int(np.prod(t.dims)) for t in proto.graph.initializer if t.data_type == TensorProto.FLOAT)


def main(paths: list[str]) -> int:
    """Measure ``count`` and ``compare`` over ``paths`` and print the figures the README reports."""
    rows = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        parse = best_of(partial(yaml.safe_load, text))
        count = best_of(partial(load_and_count, path))
        rows.append((path, parse, count))
    print("count (IR only, no framework):")
    for path, parse, count in rows:
        print(
            f"  {path:<40} yaml {parse * 1e3:7.2f} ms   count {count * 1e3:7.2f} ms   x{count / parse:5.1f}"
        )
    heavy = [m for m in ("torch", "tensorflow", "onnx") if m in sys.modules]
    print(f"  frameworks imported so far: {heavy or 'none'}")

    start = time.perf_counter()
    graphs = [load(p) for p in paths]
    compare_report(graphs[0])  # imports every framework once
    print(f"\ncompare: first spec incl. framework imports {time.perf_counter() - start:.2f} s")
    per_spec = {g.file: best_of(partial(compare_report, g), repeat=3) for g in graphs}
    for path, seconds in per_spec.items():
        print(f"  {path:<40} {seconds * 1e3:8.1f} ms (build + run + measure in 3 frameworks)")
    print(f"  median {statistics.median(per_spec.values()) * 1e3:.1f} ms per spec")

    from translator.ir.sample import sample_inputs

    seed = next((g for g in graphs if g.name == "seed_lstm"), None)
    if seed is not None:
        x = sample_inputs(seed)["x"]
        hand = best_of(lambda: hand_written_seed(x), repeat=3)
        ours = per_spec[seed.file]
        print(
            f"\nseed_lstm: translator {ours * 1e3:.1f} ms vs hand-written {hand * 1e3:.1f} ms: x{ours / hand:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["specs/seed_lstm.yaml"]))
