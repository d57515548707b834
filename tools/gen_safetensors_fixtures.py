#!/usr/bin/env python3
"""Fixtures for tests/unit/format/test_safetensors.c, written by the reference `safetensors`
package (safetensors.numpy.save_file), so the C reader is checked against an independent writer.

Run from the repo root: python3 tools/gen_safetensors_fixtures.py  (deterministic, fixed seed;
needs numpy and safetensors). Writes tests/data/safetensors/*.safetensors and expected.txt, one
record per line (no field contains a space):
  file <name> <n_tensors> <data_offset> <file_size>
  tensor <name> <dtype> <n_dims> <dim>... <begin> <nbytes> <hex of the raw bytes or ->
  value <name> <flat index> <value as float>      (spot values read back through numpy)
  meta <key> <value>
"""
import json
import os
import struct

import numpy as np
from safetensors.numpy import load_file, save_file

OUT = os.path.join("tests", "data", "safetensors")
DTYPE = {np.dtype(k): v for k, v in [("bool", "BOOL"), ("uint8", "U8"), ("int8", "I8"),
                                     ("int16", "I16"), ("uint16", "U16"), ("float16", "F16"),
                                     ("int32", "I32"), ("uint32", "U32"), ("float32", "F32"),
                                     ("float64", "F64"), ("int64", "I64"), ("uint64", "U64")]}


def fixtures(rng):
    mixed = {
        "f32.matrix": rng.standard_normal((2, 3)).astype(np.float32),
        "f16.vector": rng.standard_normal(5).astype(np.float16),
        "f64.pair": np.array([1.5, -2.25], dtype=np.float64),
        "i64.scalar": np.array(-7, dtype=np.int64),
        "i32.vector": np.array([1, -2, 3], dtype=np.int32),
        "i16.vector": np.array([-300, 300], dtype=np.int16),
        "i8.vector": np.array([-1, 2, -3], dtype=np.int8),
        "u8.empty": np.zeros((0, 5), dtype=np.uint8),
        "u16.vector": np.array([65535], dtype=np.uint16),
        "bool.mask": np.array([True, False, True]),
    }
    p = "base_model.model.model.layers.0.self_attn.q_proj."
    lora = {
        p + "lora_A.weight": rng.standard_normal((4, 16)).astype(np.float32),
        p + "lora_B.weight": rng.standard_normal((16, 4)).astype(np.float32),
    }
    return [
        ("mixed.safetensors", mixed, {"format": "np", "note": "openlora-fixture"}),
        ("lora.safetensors", lora, None),
        ("empty.safetensors", {}, {"only": "metadata"}),
    ]


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(1234)
    lines = []
    for fname, tensors, meta in fixtures(rng):
        path = os.path.join(OUT, fname)
        save_file(tensors, path, metadata=meta)
        raw = open(path, "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        header = json.loads(raw[8:8 + n])
        back = load_file(path)
        lines.append(f"file {fname} {len(tensors)} {8 + n} {len(raw)}")
        for name, info in header.items():
            if name == "__metadata__":
                continue
            b, e = info["data_offsets"]
            data = raw[8 + n + b:8 + n + e]
            shape = info["shape"]
            assert DTYPE[back[name].dtype] == info["dtype"]
            lines.append(" ".join(["tensor", name, info["dtype"], str(len(shape))]
                                  + [str(d) for d in shape]
                                  + [str(b), str(e - b), data.hex() or "-"]))
            flat = back[name].reshape(-1)
            for i in sorted({0, flat.size - 1}) if flat.size else []:
                lines.append(f"value {name} {i} {float(flat[i])!r}")
        for k, v in (meta or {}).items():
            lines.append(f"meta {k} {v}")
    with open(os.path.join(OUT, "expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
