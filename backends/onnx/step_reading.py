"""Importing time steps around recurrent layers: the last step taken from a sequence (a Keras
layer without ``return_sequences``, in tf2onnx's form: Slice then Squeeze), and the sequence
reversed over its full length by ``ReverseSequence`` (tf2onnx's ``go_backwards``, and a
Bidirectional's backward sequence turned back).
"""

from __future__ import annotations

import onnx

from backends.onnx.importing import RECOGNISERS, Reading, Refused, attributes
from backends.onnx.merge import PRODUCT_OP, SUM_OP
from backends.onnx.recurrent import SPEC_TYPES


def ints(r: Reading, tensor: str) -> list[int] | None:
    value = r.const(tensor) if tensor else None
    return None if value is None else [int(v) for v in value.reshape(-1)]


def last_step(r: Reading, tensor: str, axis: int, start: int = -1) -> list[onnx.NodeProto] | None:
    """Slice(tensor, -1, to the end, axes=[axis]) then Squeeze([axis]), each the only reader
    of its input, or Gather(tensor, -1, axis): the sequence's last step (a Keras layer's
    without return_sequences); with ``start`` 0, Slice(tensor, 0, 1) or Gather(tensor, 0):
    its first (a backward run's last, in time order)."""
    cut = r.reader(tensor)
    if cut is not None and cut.op_type == "Gather":  # a step by index: its axis dropped
        return [cut] if _gathers_step(r, cut, axis, start) else None
    if cut is None or cut.op_type != "Slice":
        return None
    given = [ints(r, t) for t in [*cut.input[1:5], ""][:4]]
    if given[:3] != [[start], given[1], [axis]] or given[3] not in (None, [1]):
        return None
    dropped = r.reader(cut.output[0])
    end = (given[1] or [0])[0]
    wrong_end = end < (1 << 30) if start == -1 else end != 1
    if wrong_end or dropped is None or dropped.op_type != "Squeeze":
        return None
    return [cut, dropped] if ints(r, dropped.input[1]) == [axis] else None


def _gathers_step(r: Reading, gather: onnx.NodeProto, axis: int, start: int) -> bool:
    """Whether a Gather takes one step, ``start`` (-1: the last, also by its index), on ``axis``."""
    steps, index = r.shape(gather.input[0]), r.const(gather.input[1])
    wanted = {start} if start == 0 or steps is None else {start, (steps[axis] or 0) - 1}
    one = index is not None and index.ndim == 0 and int(index) in wanted
    return one and attributes(gather).get("axis", 0) == axis


# tf2onnx's Keras layer running backwards reverses its time-first input by ReverseSequence
# over the full length (sequence_lens = Expand(time steps, (batch,)), both from Shape).


def full_lengths(r: Reading, lengths: str, data: str, time_axis: int) -> bool:
    """Whether ``lengths`` (ReverseSequence's, or a recurrent operator's sequence_lens) are
    every sequence's time steps: constants of that length, or the time axis of ``data``'s
    spec tensor (a Gather of a Shape at the axis showing it) expanded to the batch."""
    steps, value = r.shape(data), r.const(lengths)
    if value is not None:
        return steps is not None and bool((value == steps[time_axis]).all())
    expand = r.source.producers.get(lengths)
    while expand is not None and expand.op_type == "Cast":
        expand = r.source.producers.get(expand.input[0])
    gather = r.source.producers.get(expand.input[0]) if expand is not None else None
    if expand is None or expand.op_type != "Expand" or gather is None:
        return False
    shape = r.source.producers.get(gather.input[0])
    if gather.op_type != "Gather" or shape is None or shape.op_type != "Shape":
        return False
    measured, index, seen = r.views.get(shape.input[0]), ints(r, gather.input[1]), r.views.get(data)
    if measured is None or index is None or seen is None or measured.ref != seen.ref:
        return False
    return measured.axes[index[0]] == 1


def reversed_sequence(r: Reading, tensor: str) -> bool:
    """Whether a recurrent layer's time-first input is the sequence reversed in time."""
    node = r.source.producers.get(tensor)
    return node is not None and node.op_type == "ReverseSequence" and tensor in r.views


# The merges of a Bidirectional's two runs (``backends.onnx.bidirectional_reading``).
MERGES_OF_RUNS = ("Concat", SUM_OP, PRODUCT_OP)


@RECOGNISERS.register("ReverseSequence")
def read_sequence_reversal(r: Reading, node: onnx.NodeProto) -> None:
    """ReverseSequence over the full length, read by recurrent layers only → no layer: its
    output is seen as its input until they take the flip in (``go_backwards``); read by a
    merge, the sequence of a Bidirectional's second run turned back in time, left unseen
    (a Bidirectional read at the merge takes it in, any other read is refused)."""
    x, a = r.view(node.input[0]), attributes(node)
    time, batch = a.get("time_axis", 0), a.get("batch_axis", 1)
    if (
        x.axes[time] != 1
        or x.axes[batch] != 0
        or not full_lengths(r, node.input[1], node.input[0], time)
    ):
        raise Refused("a reversal of other than the whole time axis")
    readers = r.source.readers.get(node.output[0], [])
    if len(readers) == 1 and readers[0].op_type in MERGES_OF_RUNS:
        return  # a backward run's sequence turned back: taken in by the Bidirectional read
    if not readers or any(n.op_type not in (*SPEC_TYPES, "Loop") for n in readers):
        raise Refused("a time reversal read by other than recurrent layers")
    r.views[node.output[0]] = x
