"""Silero's ONNX graph rewritten for scoring many streams at once; the weights are untouched.

Two rewrites of the graph faster-whisper ships (16 kHz, one 576-sample frame per row):

* :func:`streams_on_batch_axis`: the transpose before the LSTM puts a call's rows on the LSTM's
  *batch* axis instead of its time axis, so each row is one step of its own stream with its own
  state (``h`` and ``c`` become one row per stream).
* :func:`convolutions_as_products`: each 1-D convolution of the encoder (the STFT's and the four
  after it) becomes its windows cut out with slices and one matrix product of all of them, which
  onnxruntime runs as a single large GEMM for the whole batch, where its convolution kernel runs
  many small ones, stream by stream. The sums are the same but for rounding (the probabilities
  differ by about 1e-7); at 200 streams a frame costs about 0.06 ms instead of 0.1 ms.

Both return without changing anything (``False``) or raise when the graph is not the one
expected; the caller checks the result against the original model before using it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_STREAM_INPUTS = {"h", "c", "hn", "cn"}
_FRAME_IN = 576 + 2 * 128
"""Samples the STFT's convolution sees per row: the frame and its context, reflect-padded."""
_ENCODER_CONVS = 5
"""The STFT's convolution and the encoder's four; the decoder's 1x1 one is left alone."""


def streams_on_batch_axis(model: Any) -> bool:
    """Put the rows of a call on the LSTM's batch axis (see the module docstring)."""
    graph = model.graph
    lstm = next(node for node in graph.node if node.op_type == "LSTM")
    feeder = next(node for node in graph.node if lstm.input[0] in node.output)
    perm = next((a for a in feeder.attribute if a.name == "perm"), None)
    if feeder.op_type != "Transpose" or perm is None or list(perm.ints) != [0, 2, 1]:
        return False
    perm.ints[:] = [2, 0, 1]
    for value in [*graph.input, *graph.output]:
        if value.name in _STREAM_INPUTS:
            value.type.tensor_type.shape.dim[1].dim_param = "streams"
        elif value.name == "speech_probs":
            value.type.tensor_type.shape.dim[0].dim_param = "streams"
    return True


def convolutions_as_products(model: Any) -> None:
    """Rewrite the encoder's convolutions as slices and one MatMul each (module docstring).

    Raises:
        ValueError: a convolution is not the plain 1-D kind expected (groups, dilation).
    """
    from onnx import helper, numpy_helper  # noqa: PLC0415 - only when building the session

    graph = model.graph
    weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    length = _FRAME_IN
    for index, node in enumerate([n for n in graph.node if n.op_type == "Conv"][:_ENCODER_CONVS]):
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("group", 1) != 1 or list(attrs.get("dilations", [1])) != [1]:
            msg = f"unexpected convolution {node.name}"
            raise ValueError(msg)
        (kernel,), (stride,) = attrs["kernel_shape"], attrs["strides"]
        before, after = attrs.get("pads") or [0, 0]
        weight = weights[node.input[1]]
        out_channels, channels, _ = weight.shape
        windows = (length + before + after - kernel) // stride + 1
        prefix = f"products/{index}/"

        def constant(name: str, value: Any, prefix: str = prefix) -> str:
            graph.initializer.append(numpy_helper.from_array(np.asarray(value), prefix + name))
            return prefix + name

        nodes = []
        source = node.input[0]
        if before or after:
            pads = constant("pads", np.array([0, 0, before, 0, 0, after], dtype=np.int64))
            nodes.append(helper.make_node("Pad", [source, pads], [prefix + "padded"]))
            source = prefix + "padded"
        axis = constant("axis", np.array([2], dtype=np.int64))
        row = constant("row", np.array([0, 1, channels * kernel], dtype=np.int64))
        rows = []
        for w in range(windows):
            start = constant(f"start{w}", np.array([w * stride], dtype=np.int64))
            stop = constant(f"stop{w}", np.array([w * stride + kernel], dtype=np.int64))
            window = f"{prefix}window{w}"
            nodes.append(helper.make_node("Slice", [source, start, stop, axis], [window]))
            nodes.append(helper.make_node("Reshape", [window, row], [f"{prefix}row{w}"]))
            rows.append(f"{prefix}row{w}")
        columns = rows[0]
        if len(rows) > 1:
            columns = prefix + "columns"
            nodes.append(helper.make_node("Concat", rows, [columns], axis=1))
        matrix = weight.transpose(1, 2, 0).reshape(channels * kernel, out_channels)
        product = prefix + "product"
        nodes.append(helper.make_node("MatMul", [columns, constant("weight", matrix)], [product]))
        if len(node.input) > 2:
            nodes.append(helper.make_node("Add", [product, node.input[2]], [prefix + "biased"]))
            product = prefix + "biased"
        nodes.append(helper.make_node("Transpose", [product], [node.output[0]], perm=[0, 2, 1]))
        position = list(graph.node).index(node)
        graph.node.remove(node)
        for offset, new in enumerate(nodes):
            graph.node.insert(position + offset, new)
        # the STFT's first window is sliced away after it (Silero's own choice)
        length = windows - 1 if index == 0 else windows
