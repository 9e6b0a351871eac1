"""The catalogue of exporter rules: what official exporters do to a model's parameters.

``translator.reconcile`` names the differences between frameworks; these name the differences
between a framework's model and a *file* some exporter wrote from it, for ``audit``. A rule is
data: an id, its delta formula, the exporter and flag that cause it, how to avoid it, an
explanation template filled with the real numbers, a worked example (the numbers of a real
export, for ``docs/rules.md``), and a detector.

A detector reads one ``Row`` per spec layer: the tensors the spec predicts that the file does
not hold (``missing``) and the tensors the file holds beyond the prediction (``extra``), left
after matching by name, shape, packing, size and splitting (``translator.commands.audit``).
It takes the items it explains out of those lists and records a ``Finding`` with the signed
delta; what is left unexplained is what no rule took.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from translator.ir import Node, WeightSpec
from translator.ops.recurrent import GATES
from translator.reconcile import WRAPPER_COPIES
from translator.spec.schema import SCHEMAS
from translator.weights.inventory import SECOND_NAME, FileTensor, Inventory

HELPER_MAX = 8  # elements: a shape, an axis list, a scalar; never a layer's weight here
LSTM_GATES = 4  # the recurrent type with four gates; ONNX's LSTM packs B = [Wb, Rb]

# Layer kinds are told by the IR's facts (family, roles, gates), not by type names: the
# family modules and the catalogue are where type names live.


def is_conv(node: Node) -> bool:
    return SCHEMAS[node.type].family == "conv"


def is_batchnorm(node: Node) -> bool:
    return any(w.role == "moving_mean" for w in node.weights.get("keras", ()))


def runs_as_itself(row: Row, inventory: Inventory) -> bool:
    """Whether the file runs the layer as an ONNX operator of its own type's name (ONNX's
    BatchNormalization, LSTM, GRU are named as Keras's): nothing was folded away."""
    return row.node is not None and row.node.type in inventory.ops.get(row.name, set())


def is_position_table(node: Node) -> bool:
    """A learned table indexed by position, not by the token ids of an input."""
    embeds = any(w.role == "embeddings" for w in node.weights.get("keras", ()))
    return embeds and not SCHEMAS[node.type].token_ids


@dataclass(frozen=True)
class Finding:
    """A rule applied to one row: its id, the signed delta, and the filled-in text."""

    rule: str
    delta: int
    text: str


@dataclass
class Row:
    """One spec layer (``node``; None for the tensors no layer claims) in the audit."""

    name: str
    node: Node | None
    predicted: list[WeightSpec]
    held: list[FileTensor]
    missing: list[WeightSpec] = field(default_factory=list)
    extra: list[FileTensor] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def unexplained(self) -> int:
        return sum(t.size for t in self.extra) - sum(w.size for w in self.missing)


Rows = dict[str, Row]
Detector = Callable[["ExporterRule", Rows, Inventory], None]


@dataclass(frozen=True)
class ExporterRule:
    """One thing an exporter does to the parameters a file holds."""

    id: str
    formula: str
    cause: str  # the exporter and flag
    avoid: str
    text: str  # template over the detector's values
    example: dict[str, Any]  # the values of a real export, for the docs
    seen: str  # which export those values come from (tests/end_to_end/test_audit_exports.py)
    detect: Detector

    def worked_example(self) -> str:
        """The explanation filled with the numbers of the real export ``seen`` names."""
        return self.text.format(**{"delta": 0, **self.example})

    def record(self, row: Row, delta: int, **values: Any) -> None:
        row.findings.append(Finding(self.id, delta, self.text.format(delta=delta, **values)))


def _take(items: list, chosen: list) -> None:
    for item in chosen:
        items.remove(item)


def _tied(rule: ExporterRule, rows: Rows, inventory: Inventory) -> None:
    for row in rows.values():
        owner = row.node.links.get("tie") if row.node is not None else None
        if owner is None:
            continue
        table = next(
            (w for w in owner.weights.get(inventory.framework, ()) if w.role == "embeddings"), None
        )
        if table is None:
            continue
        copies = [t for t in row.extra if t.floating and t.size == table.size]
        for copy in copies:
            _take(row.extra, [copy])
            v, e = table.shape
            rule.record(row, copy.size, v=v, e=e, n=copy.size, owner=owner.name, shape=copy.shape)


def _named_twice(rule: ExporterRule, rows: Rows, inventory: Inventory) -> None:
    for row in rows.values():
        owner = row.node.links.get("tie") if row.node is not None else None
        if owner is None:
            continue
        for copy in [t for t in row.extra if t.via == SECOND_NAME]:
            _take(row.extra, [copy])
            rule.record(row, copy.size, key=copy.name, owner=owner.name, n=copy.size)


def _deduplicated(rule: ExporterRule, rows: Rows, inventory: Inventory) -> None:
    for row in rows.values():
        shapes = list(inventory.borrowed.get(row.name, []))
        gone = []
        for w in row.missing:
            if w.shape in shapes:
                shapes.remove(w.shape)
                gone.append(w)
        if gone:
            _take(row.missing, gone)
            names = ", ".join(w.name for w in gone)
            n = sum(w.size for w in gone)
            rule.record(row, -n, count=len(gone), names=names, n=n)


def _zero_bias(rule: ExporterRule, rows: Rows, inventory: Inventory) -> None:
    if not inventory.dynamo:
        return
    for row in rows.values():
        gone = [w for w in row.missing if "bias" in w.role]
        if gone:
            _take(row.missing, gone)
            n = sum(w.size for w in gone)
            rule.record(row, -n, names=", ".join(w.name for w in gone), n=n)


def _position_table(rule: ExporterRule, rows: Rows, inventory: Inventory) -> None:
    for row in rows.values():
        node = row.node
        if node is None or not is_position_table(node) or not row.missing:
            continue
        steps, width = node.output_shape[-2:]
        for holder in [row.name, *(r.name for r in node.readers)]:
            baked = [t for t in rows[holder].extra if t.floating and t.shape[-2:] == (steps, width)]
            if baked:
                table = row.missing[0]
                _take(row.missing, [table])
                _take(rows[holder].extra, baked[:1])
                n, held = table.size, baked[0]
                rule.record(row, -n, n=n, shape=table.shape, t=steps, e=width, held=held.shape)
                values = {"n": held.size, "shape": table.shape, "t": steps, "e": width}
                rule.record(rows[holder], held.size, held=held.shape, **values)
                break


def _causal_mask(rule: ExporterRule, rows: Rows, inventory: Inventory) -> None:
    for row in rows.values():
        if row.node is None or not row.node.args.get("causal"):
            continue
        steps = row.node.output_shape[0]
        for mask in [t for t in row.extra if len(t.shape) >= 2 and t.shape[-2:] == (steps, steps)]:
            _take(row.extra, [mask])
            rule.record(row, mask.size, t=steps, n=mask.size, shape=mask.shape)


def _recurrent(node: Node) -> tuple[Node, int] | None:
    """(the recurrent layer, its directions) of a recurrent layer or a wrapper of one."""
    if node.type in GATES:
        return node, 1
    inner = node.inner
    if inner is not None and inner.type in GATES:
        return inner, WRAPPER_COPIES[node.type]
    return None


def _is_state(t: FileTensor, depth: int, directions: int, units: int) -> bool:
    """A state's shape: (L·D, B, H) for PyTorch's recurrent modules (one per direction:
    (L, B, H)), or (B, H) for a layer written as a loop over time steps."""
    if not t.floating or t.shape[-1:] != (units,):
        return False
    return len(t.shape) == 2 or (len(t.shape) == 3 and t.shape[0] in (depth, depth * directions))


def _initial_state(rule: ExporterRule, rows: Rows, inventory: Inventory) -> None:
    for row in rows.values():
        found = _recurrent(row.node) if row.node is not None else None
        if found is None:
            continue
        cell, directions = found
        units, depth = cell.args["units"], cell.args.get("num_layers", 1)
        for state in [t for t in row.extra if _is_state(t, depth, directions, units)]:
            _take(row.extra, [state])
            d = state.shape[0] // depth if len(state.shape) == 3 else 1
            b = state.shape[-2]
            rule.record(row, state.size, l=depth, d=d, b=b, h=units, n=state.size)


def _spatial(node: Node) -> set[tuple[int | None, ...]]:
    """A pooling layer's output sizes without the channel axis (either end), 1s left out."""
    out = node.output_shape
    return {tuple(d for d in part if d != 1) for part in (out[:-1], out[1:])}


def _pooling_divisor(rule: ExporterRule, rows: Rows, inventory: Inventory) -> None:
    for row in rows.values():
        node = row.node
        if node is None or SCHEMAS[node.type].family != "pooling":
            continue
        spatial = _spatial(node)
        for counts in [
            t for t in row.extra if t.floating and tuple(d for d in t.shape if d != 1) in spatial
        ]:
            _take(row.extra, [counts])
            rule.record(row, counts.size, shape=counts.shape, n=counts.size)


def _recurrent_loop(rule: ExporterRule, rows: Rows, inventory: Inventory) -> None:
    for row in rows.values():
        found = _recurrent(row.node) if row.node is not None else None
        if found is not None and row.name in inventory.loops:
            n = sum(w.size for w in row.predicted)
            rule.record(row, 0, n=n)


def _zero_recurrent_bias(rule: ExporterRule, rows: Rows, inventory: Inventory) -> None:
    for row in rows.values():
        found = _recurrent(row.node) if row.node is not None else None
        if found is None or GATES[found[0].type] != LSTM_GATES or inventory.framework != "keras":
            continue
        biases = [w for w in row.missing if w.role == "bias"]
        n = sum(w.size for w in biases)
        packed = [t for t in row.extra if biases and t.floating and t.size == 2 * n]
        if packed:
            _take(row.missing, biases)
            _take(row.extra, packed[:1])
            units, directions = found[0].args["units"], found[1]
            rule.record(row, n, u=units, d=directions, n=n, shape=packed[0].shape)


def _folded_batchnorm(rule: ExporterRule, rows: Rows, inventory: Inventory) -> None:
    for row in rows.values():
        node = row.node
        conv = rows.get(node.inputs[0]) if node is not None else None
        if node is None or not is_batchnorm(node) or not row.missing:
            continue
        if inventory.format != "onnx" or runs_as_itself(row, inventory):
            continue
        if conv is None or conv.node is None or not is_conv(conv.node):
            continue
        c = conv.node.args["filters"]
        kept = sum(t.size for t in row.held)  # tf2onnx: the new bias, added in the BN's scope
        bias = [t for t in conv.extra if t.floating and t.shape == (c,)][:1] if not kept else []
        if kept not in (0, c):
            continue
        _take(conv.extra, bias)
        gone = sum(w.size for w in row.missing)
        k = gone - (c if bias else 0)
        values = {"c": c, "conv": conv.name, "bn": node.name, "gone": gone, "k": k}
        row.missing.clear()
        what = "its tensors gone" + (", a bias of its own kept" if kept else "")
        rule.record(row, -gone, **values, what=what)
        if bias:
            rule.record(conv, c, **values, what="a bias added to the convolution")


def _collapsed_batchnorm(rule: ExporterRule, rows: Rows, inventory: Inventory) -> None:
    for row in rows.values():
        node = row.node
        if node is None or not is_batchnorm(node) or len(row.held) != 2:
            continue
        if inventory.format != "onnx" or runs_as_itself(row, inventory):
            continue
        (c,) = row.predicted[0].shape
        stats = [w for w in row.missing if w.size == c]
        if len(stats) == 2 and all(t.size == c for t in row.held):
            _take(row.missing, stats)
            rule.record(row, -2 * c, c=c, n=2 * c, shapes=", ".join(str(t.shape) for t in row.held))


def _dropped_counter(rule: ExporterRule, rows: Rows, inventory: Inventory) -> None:
    if inventory.format != "onnx":
        return
    for row in rows.values():
        counters = [w for w in row.missing if w.role == "num_batches_tracked"]
        if counters:
            _take(row.missing, counters)
            rule.record(row, -len(counters), n=len(counters))


def _helpers(rule: ExporterRule, rows: Rows, inventory: Inventory) -> None:
    if inventory.format != "onnx":  # the other formats hold a model's state, nothing else
        return
    for row in rows.values():
        small = [t for t in row.extra if not t.floating or t.size <= HELPER_MAX]
        if small:
            _take(row.extra, small)
            n = sum(t.size for t in small)
            rule.record(row, n, count=len(small), n=n, limit=HELPER_MAX)


RULES: tuple[ExporterRule, ...] = (
    ExporterRule(
        id="tied-weight-named-twice",
        formula="+V·E",
        cause="torch.save(model.state_dict()): a tied parameter is listed under each name",
        avoid="save_pretrained / safetensors, which keep one name of a tied tensor",
        text=(
            "'{key}' is the embedding of '{owner}' under its tied head's name: one tensor in"
            " the model, listed twice in the file: +{n:,}"
        ),
        example={"key": "lm_head.weight", "owner": "transformer_wte", "n": 38597376},
        seen="GPT-2 of transformers imported from .pt2, torch.save(model.state_dict())",
        detect=_named_twice,
    ),
    ExporterRule(
        id="tied-weights-duplicated",
        formula="+V·E",
        cause="torch.onnx.export with do_constant_folding=True (the default), dynamo=False or dynamo=True",
        avoid="do_constant_folding=False with dynamo=False (the head then reads the embedding through a Transpose)",
        text=(
            "the output projection reads the {v:,} × {e:,} embedding of '{owner}', transposed; "
            "the exporter folded the transpose into a constant of its own, {shape}: "
            "+{v:,} × {e:,} = +{n:,} (the tied matrix stored twice)"
        ),
        example={"owner": "wte", "v": 50257, "e": 768, "n": 38597376, "shape": (768, 50257)},
        seen="lm_head of specs/zoo/gpt2_small.yaml, torch.onnx.export(dynamo=False)",
        detect=_tied,
    ),
    ExporterRule(
        id="unused-buffer-dropped",
        formula="−1 per BatchNorm",
        cause="torch.onnx.export (both exporters) drops num_batches_tracked, read only in training with momentum=None",
        avoid="nothing to avoid: inference never reads it",
        text="PyTorch's num_batches_tracked counter is not stored (inference never reads it): −{n}",
        example={"n": 1},
        seen="every BatchNorm, torch.onnx.export (both exporters)",
        detect=_dropped_counter,
    ),
    ExporterRule(
        id="batchnorm-folded-into-conv",
        formula="−kC: the BatchNorm's 4C gone, +C conv bias when the conv had none (k = 3), none when it had one (k = 4); its counter: unused-buffer-dropped",
        cause="torch.onnx.export folds a BatchNorm into the convolution before it: dynamo=False with do_constant_folding=True (the default), in eval mode; dynamo=True through its optimizer (the new bias named '<conv>.weight_bias'); tf2onnx too, keeping the new bias as an Add in the BatchNorm's scope",
        avoid="dynamo=False with do_constant_folding=False, or dynamo=True with optimize=False; tf2onnx always folds",
        text=(
            "BatchNormalization '{bn}' ({c} channels) folded into convolution '{conv}': {what}, "
            "{delta:+,} (in all −{k:,} = −(BatchNorm's {gone:,} − the conv's new bias))"
        ),
        example={
            "bn": "bn_a",
            "conv": "conv_a",
            "c": 8,
            "gone": 32,
            "k": 24,
            "what": "its tensors gone",
            "delta": -32,
        },
        seen="Conv2d(bias=False) + BatchNorm2d, torch.onnx.export(dynamo=False); the conv gets +8",
        detect=_folded_batchnorm,
    ),
    ExporterRule(
        id="batchnorm-collapsed-to-scale-offset",
        formula="−2C",
        cause="tf2onnx writes an inference BatchNormalization it cannot fold into a convolution as Mul and Add by two per-channel constants",
        avoid="nothing to avoid: the same arithmetic, the statistics folded into the two constants",
        text=(
            "the BatchNormalization's 4 × {c} tensors (gamma, beta, mean, variance) are "
            "collapsed into a scale and an offset, {shapes}: −2 × {c} = −{n:,}"
        ),
        example={"c": 32, "n": 64, "shapes": "(1, 32, 1, 1), (1, 32, 1, 1)"},
        seen="batch_normalization of specs/resnet_block.yaml through tf2onnx 1.17",
        detect=_collapsed_batchnorm,
    ),
    ExporterRule(
        id="duplicate-initializer-deduplicated",
        formula="−size of each tensor equal in value to another's",
        cause="torch.onnx.export (dynamo=False and dynamo=True) deduplicates initializers of equal value",
        avoid="nothing to avoid: the file is smaller and computes the same; load trained (not freshly initialized) weights to see each tensor",
        text=(
            "{count} tensor(s) ({names}) equal in value to another layer's tensor are stored "
            "once and read from there: −{n:,}"
        ),
        example={"count": 2, "names": "weight, bias", "n": 32},
        seen="h_2_ln_1 of a 2-block GPT-2 (16 features) as initialized, torch.onnx.export(dynamo=False)",
        detect=_deduplicated,
    ),
    ExporterRule(
        id="zero-bias-removed",
        formula="−size of each all-zero bias",
        cause="torch.onnx.export(dynamo=True) optimizes away the addition of a bias that is all zeros (a model as initialized), and the bias with it",
        avoid="export trained weights; or dynamo=False, which keeps the bias (deduplicated with equal ones)",
        text="{names}: all zeros, its addition optimized away and not stored: −{n:,}",
        example={"names": "out_proj.bias", "n": 16},
        seen="the attention output bias of a 2-block GPT-2 as initialized, torch.onnx.export(dynamo=True)",
        detect=_zero_bias,
    ),
    ExporterRule(
        id="position-table-baked",
        formula="−P·E on the table, +T·E (or +B·T·E) where it is read",
        cause="torch.onnx.export constant-folds the positions 0..T−1 of the traced input (dynamo=False with do_constant_folding=True: T·E; dynamo=True: B·T·E, broadcast to the batch)",
        avoid="do_constant_folding=False with dynamo=False (the whole table is kept)",
        text=(
            "the position table {shape} is replaced by its first {t} rows, looked up for the "
            "traced sequence length and stored as {held}: {delta:+,}"
        ),
        example={"shape": (32, 16), "t": 8, "e": 16, "held": (8, 16), "n": 512, "delta": -512},
        seen="wpe (32 positions, 16 features) of a GPT-2 traced on 8 tokens, torch.onnx.export(dynamo=False)",
        detect=_position_table,
    ),
    ExporterRule(
        id="baked-causal-mask",
        formula="+T² per stored mask",
        cause="torch.onnx.export stores the causal mask of the traced length (dynamo=False: Constant nodes; dynamo=True: an initializer)",
        avoid="no flag tested here removes it: its size follows the traced length, so trace with the length you run",
        text="the {t} × {t} causal mask of the traced length is stored as {shape}: +{t}² = +{n:,}",
        example={"t": 8, "n": 64, "shape": (1, 1, 8, 8)},
        seen="the attention of a GPT-2 traced on 8 tokens, torch.onnx.export(dynamo=True)",
        detect=_causal_mask,
    ),
    ExporterRule(
        id="baked-initial-state",
        formula="+L·D·B·H per zero state tensor",
        cause="torch.onnx.export stores the zero initial state of the traced batch (dynamo=False: a Constant node; dynamo=True: an initializer, one per direction); a layer written as a loop over time steps (Keras's reset-before GRU) also stores what constant folding derives from that zero state",
        avoid="trace with the batch you run, or give the state as a model input (the file then holds none)",
        text=(
            "a zero initial state for {l} layer(s) × {d} direction(s) × batch {b} × {h} units is "
            "stored: +{n:,} (it depends on the traced batch)"
        ),
        example={"l": 1, "d": 1, "b": 2, "h": 10, "n": 20},
        seen="lstm of specs/seed_lstm.yaml traced on a batch of 2, both exporters",
        detect=_initial_state,
    ),
    ExporterRule(
        id="baked-pooling-divisor",
        formula="+the output's spatial size, per same-padded average pooling",
        cause="torch.onnx.export(dynamo=True) constant-folds the counts the PyTorch model computes from ones at run time (Keras's average pooling leaves the padding out of each average)",
        avoid="dynamo=False (the counts stay a computation)",
        text=(
            "the number of input elements each output averages (the padding left out) is "
            "stored as {shape}: +{n:,}"
        ),
        example={"shape": (1, 1, 7, 7), "n": 49},
        seen="pool of specs/grouped_dilated_conv.yaml, torch.onnx.export(dynamo=True)",
        detect=_pooling_divisor,
    ),
    ExporterRule(
        id="recurrent-loop",
        formula="0: the same tensors, another graph",
        cause="tf2onnx writes a Keras GRU (reset_after either way) as an ONNX Loop over the time steps, not as ONNX's GRU operator",
        avoid="nothing to avoid for the count: only the graph differs",
        text=(
            "the layer runs as an ONNX Loop of MatMuls over the time steps (no ONNX recurrent "
            "operator): its {n:,} weights are stored as Keras holds them and read inside the loop"
        ),
        example={"n": 1200},
        seen="gru_reset_before of specs/gru_variants.yaml through tf2onnx 1.17",
        detect=_recurrent_loop,
    ),
    ExporterRule(
        id="zero-recurrent-bias",
        formula="+4U per direction",
        cause="tf2onnx writes a Keras LSTM as ONNX LSTM, whose B = [Wb, Rb] needs a recurrent bias Keras does not have: zeros",
        avoid="nothing to avoid (ONNX's LSTM needs it); count Rb as zeros",
        text=(
            "ONNX's LSTM takes B = [Wb, Rb]; Keras has one bias per gate, so a zero recurrent "
            "bias of 4 × {u} units × {d} direction(s) is stored in {shape}: +{n:,}"
        ),
        example={"u": 10, "d": 1, "n": 40, "shape": (1, 80)},
        seen="lstm of specs/seed_lstm.yaml through tf2onnx 1.17",
        detect=_zero_recurrent_bias,
    ),
    ExporterRule(
        id="helper-constants",
        formula="+elements of each shape, axis or scalar constant",
        cause="every exporter: Reshape shapes, axes, scalars as initializers or Constant nodes",
        avoid="nothing to avoid: they are not parameters",
        text="{count} helper constant(s) (shapes, axes, scalars; at most {limit} elements each): +{n:,}",
        example={"count": 2, "n": 2, "limit": HELPER_MAX},
        seen="wpe of a GPT-2, torch.onnx.export(dynamo=False)",
        detect=_helpers,
    ),
)
RULE_INDEX = {rule.id: rule for rule in RULES}


def explain_rows(rows: Rows, inventory: Inventory) -> None:
    """Run every rule's detector, in catalogue order, over the rows (a BatchNorm folded away
    is claimed before deduplication: the fused Conv reads the conv's tensors in its scope)."""
    for rule in RULES:
        rule.detect(rule, rows, inventory)
