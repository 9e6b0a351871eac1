"""Benchmark: ``python -m translator.bench`` (``make bench``): the figures README's "Speed" gives.

Each row is a ratio of two measurements, ours against a baseline, and each measurement runs in
its own process (``python -m translator.bench --one NAME``) so that its peak resident memory
(``wait4``'s ``ru_maxrss``) is its own:

* ``count`` of the 7B spec against a bare YAML parse of it (libyaml's C loader);
* ``compare`` of the seed against the same model written by hand in the three frameworks
  (``hand_written_seed``), and of all the small specs (``specs/*.yaml``) in one process;
* ``compare`` of VGG-16 against building it by hand: ``keras.applications.VGG16``, a
  hand-written ``torch.nn`` VGG-16 and a hand-written ONNX graph run by onnxruntime, each run
  once and counted (``vgg16_by_hand``);
* ``compare`` of GPT-2 small once per distinct layer against full materialization.

The small specs' times are taken once the frameworks are imported (the seed's: the best of
five runs; the imports are shown apart); the large models' are one run each, importing the
frameworks as ``compare`` does, so that each peak is the command's own.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from translator.ir.sample import BATCH, STEPS

ROOT = Path(__file__).resolve().parent.parent
LLAMA = ROOT / "specs" / "zoo" / "llama2_7b.yaml"
SEED = ROOT / "specs" / "seed_lstm.yaml"
VGG16 = ROOT / "specs" / "zoo" / "vgg16.yaml"
GPT2 = ROOT / "specs" / "zoo" / "gpt2_small.yaml"


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    """The fastest of ``repeat`` runs, in seconds (the least disturbed by the machine)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _imported() -> float:
    """Import the three frameworks the way ``compare`` does; the seconds it took."""
    import backends

    start = time.perf_counter()
    for framework in ("keras", "torch", "onnx"):
        backends.load(framework)
    return time.perf_counter() - start


def _yaml_parse() -> dict[str, float]:
    import yaml

    text = LLAMA.read_text(encoding="utf-8")
    return {"seconds": best_of(lambda: yaml.load(text, Loader=yaml.CSafeLoader))}


def _count() -> dict[str, float]:
    from translator.commands.compare import count_report
    from translator.spec.loader import load

    return {"seconds": best_of(lambda: count_report(load(str(LLAMA))))}


def _compare(path: Path, materialize: str | None = None) -> dict[str, float]:
    """One compare of ``path``, importing the frameworks as the command does (lazily, so
    the peak is the command's own)."""
    from translator.commands.compare import compare_report
    from translator.spec.loader import load

    graph = load(str(path))
    start = time.perf_counter()
    compare_report(graph, materialize=materialize)
    return {"seconds": time.perf_counter() - start}


def _compare_seed() -> dict[str, float]:
    from translator.commands.compare import compare_report
    from translator.spec.loader import load

    imports = _imported()
    graph = load(str(SEED))
    compare_report(graph)  # the first build of a kind warms the frameworks' caches
    return {"seconds": best_of(lambda: compare_report(graph)), "imports": imports}


def _compare_small() -> dict[str, float]:
    from translator.commands.compare import compare_report
    from translator.spec.loader import load

    imports = _imported()
    graphs = [load(p) for p in sorted(glob.glob(str(ROOT / "specs" / "*.yaml")))]
    start = time.perf_counter()
    for graph in graphs:
        compare_report(graph)
    return {"seconds": time.perf_counter() - start, "imports": imports, "specs": len(graphs)}


def _seed_by_hand() -> dict[str, float]:
    imports = _imported()
    seed_by_hand()
    return {"seconds": best_of(seed_by_hand), "imports": imports}


def _vgg16_by_hand() -> dict[str, float]:
    start = time.perf_counter()
    vgg16_by_hand()
    return {"seconds": time.perf_counter() - start}


def seed_by_hand() -> None:
    """The seed model written by hand in each framework: build, one forward pass, count."""
    import keras
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper

    x = np.random.default_rng(0).standard_normal((BATCH, STEPS, 1)).astype(np.float32)
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


VGG_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (filters, convolutions)
VGG_HEAD = ((4096, "Relu"), (4096, "Relu"), (1000, "Softmax"))  # (units, activation)


def vgg16_by_hand() -> None:
    """VGG-16 built by hand in each framework, each run once on the probe batch and counted,
    each model dropped before the next (as ``compare`` does): ``keras.applications.VGG16``,
    a hand-written ``torch.nn.Sequential`` and a hand-written ONNX graph in onnxruntime."""
    import keras
    import numpy as np
    import onnxruntime as ort
    import torch

    x = np.random.default_rng(0).standard_normal((BATCH, 224, 224, 3)).astype(np.float32)
    model = keras.applications.VGG16(weights=None)
    model(x, training=False)
    model.count_params()
    del model
    net = _torch_vgg16().eval()
    with torch.no_grad():
        net(torch.from_numpy(x).permute(0, 3, 1, 2))
    sum(p.numel() for p in net.parameters())
    del net
    proto = _onnx_vgg16(np.random.default_rng(0))
    sum(int(np.prod(t.dims)) for t in proto.graph.initializer)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    session.run(None, {"x": x.transpose(0, 3, 1, 2).copy()})


def _torch_vgg16() -> Any:
    from torch import nn

    layers: list[nn.Module] = []
    channels = 3
    for filters, convs in VGG_BLOCKS:
        for _ in range(convs):
            layers += [nn.Conv2d(channels, filters, 3, padding=1), nn.ReLU()]
            channels = filters
        layers.append(nn.MaxPool2d(2, 2))
    layers.append(nn.Flatten())
    width = 512 * 7 * 7
    for units, activation in VGG_HEAD:
        layers += [nn.Linear(width, units), nn.ReLU() if activation == "Relu" else nn.Softmax(-1)]
        width = units
    return nn.Sequential(*layers)


def _onnx_vgg16(rng: Any) -> Any:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []

    def weight(name: str, *shape: int) -> str:
        value = rng.random(shape, dtype=np.float32)
        value -= 0.5
        inits.append(numpy_helper.from_array(value * 0.02, name))
        return name

    x, channels = "x", 3
    for b, (filters, convs) in enumerate(VGG_BLOCKS):
        for c in range(convs):
            w, bias = weight(f"w{b}_{c}", filters, channels, 3, 3), weight(f"b{b}_{c}", filters)
            nodes.append(helper.make_node("Conv", [x, w, bias], [f"c{b}_{c}"], pads=[1] * 4))
            nodes.append(helper.make_node("Relu", [f"c{b}_{c}"], [f"r{b}_{c}"]))
            x, channels = f"r{b}_{c}", filters
        nodes.append(
            helper.make_node("MaxPool", [x], [f"p{b}"], kernel_shape=[2, 2], strides=[2, 2])
        )
        x = f"p{b}"
    nodes.append(helper.make_node("Flatten", [x], ["flat"]))
    x, width = "flat", 512 * 7 * 7
    for i, (units, activation) in enumerate(VGG_HEAD):
        w, bias = weight(f"fw{i}", width, units), weight(f"fb{i}", units)
        nodes.append(helper.make_node("Gemm", [x, w, bias], [f"g{i}"]))
        nodes.append(helper.make_node(activation, [f"g{i}"], [f"a{i}"]))
        x, width = f"a{i}", units
    image = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 224, 224])
    out = helper.make_tensor_value_info(x, TensorProto.FLOAT, ["n", 1000])
    graph = helper.make_graph(nodes, "vgg16", [image], [out], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)


JOBS: dict[str, Callable[[], dict[str, float]]] = {
    "yaml": _yaml_parse,
    "count": _count,
    "seed": _compare_seed,
    "seed_by_hand": _seed_by_hand,
    "small_specs": _compare_small,
    "vgg16": lambda: _compare(VGG16, materialize="full"),
    "vgg16_by_hand": _vgg16_by_hand,
    "gpt2_distinct": lambda: _compare(GPT2, materialize="distinct"),
    "gpt2_full": lambda: _compare(GPT2, materialize="full"),
}


@dataclass(frozen=True)
class Row:
    """One line of the table: ``ours`` against ``baseline`` (names of ``JOBS``)."""

    what: str
    ours: str
    baseline: str | None


ROWS = (
    Row("count llama2_7b.yaml vs yaml.load (CSafeLoader)", "count", "yaml"),
    Row("compare seed_lstm vs hand-written (3 frameworks)", "seed", "seed_by_hand"),
    Row("compare specs/*.yaml, all in one process", "small_specs", None),
    Row("compare vgg16 vs built by hand (3 frameworks)", "vgg16", "vgg16_by_hand"),
    Row("compare gpt2_small: distinct vs full", "gpt2_distinct", "gpt2_full"),
)


def measure(job: str) -> dict[str, float]:
    """Run ``job`` in a fresh process; its figures plus ``peak`` (bytes of resident memory)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    argv = [sys.executable, "-m", "translator.bench", "--one", job]
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        figures = json.loads(out.read() or b"{}")
    if child.returncode != 0:
        raise SystemExit(f"bench: {job} failed with exit code {child.returncode}")
    return {**figures, "peak": usage.ru_maxrss * 1024}


def _figure(result: dict[str, float]) -> str:
    seconds = result["seconds"]
    took = f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.1f} s"
    return f"{took}, peak {result['peak'] / 2**30:.2f} GiB"


def main(argv: list[str]) -> int:
    """``--one JOB``: run one job and print its figures as JSON; else the whole table."""
    if argv[:1] == ["--one"]:
        print(json.dumps(JOBS[argv[1]]()))
        return 0
    start = time.perf_counter()
    for row in ROWS:
        ours = measure(row.ours)
        line = f"{row.what:<50} {_figure(ours)}"
        if row.baseline is not None:
            base = measure(row.baseline)
            line += f"  vs {_figure(base)}: x{ours['seconds'] / base['seconds']:.2f}"
        if "imports" in ours:
            line += f"  (imports {ours['imports']:.1f} s apart)"
        print(line, flush=True)
    print(f"bench took {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
