#!/usr/bin/env python3
"""Golden files for tests/unit/tensor/test_dequant.c: random but valid quant blocks of every
dtype and their dequantization by the `gguf` package (gguf.quants.dequantize), plus f32 inputs
and their quantization by gguf.quants.quantize (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1). Q8_1 and Q8_K
(activation-only types gguf lacks) are dequantized by the numpy code below.

Run from the repo root: python3 tools/gen_dequant_golden.py  (deterministic, fixed seed).
Writes tests/data/dequant/<TYPE>.blk (raw blocks) + <TYPE>.f32 (dequantized, little endian)
and tests/data/dequant/quant_<TYPE>.in (f32) + quant_<TYPE>.blk (gguf's quantization).
"""
import os

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

OUT = os.path.join("tests", "data", "dequant")

# name: (gguf type or None, elements per block, bytes per block, number of blocks)
TYPES = {
    "F32": (T.F32, 1, 4, 64),
    "F16": (T.F16, 1, 2, 64),
    "BF16": (T.BF16, 1, 2, 64),
    "Q4_0": (T.Q4_0, 32, 18, 8),
    "Q4_1": (T.Q4_1, 32, 20, 8),
    "Q5_0": (T.Q5_0, 32, 22, 8),
    "Q5_1": (T.Q5_1, 32, 24, 8),
    "Q8_0": (T.Q8_0, 32, 34, 8),
    "Q8_1": (None, 32, 36, 8),
    "Q4_K": (T.Q4_K, 256, 144, 3),
    "Q5_K": (T.Q5_K, 256, 176, 3),
    "Q6_K": (T.Q6_K, 256, 210, 3),
    "Q8_K": (None, 256, 292, 3),
}

# byte offsets of f16 fields that must hold finite values (the rest is random bytes)
F16_FIELDS = {
    "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0], "Q8_1": [0, 2],
    "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
}


def rand_f16(rng, n):
    """Finite f16 values over a wide range of magnitudes, incl. zero and subnormals."""
    v = rng.standard_normal(n) * np.exp2(rng.uniform(-16, 4, n))
    v[rng.random(n) < 0.05] = 0.0
    return v.astype(np.float16)


def make_blocks(rng, name, nb, bsize):
    if name == "F32":
        return (rng.standard_normal(nb) * 10).astype(np.float32).view(np.uint8)
    if name == "F16":
        return rand_f16(rng, nb).view(np.uint8)
    if name == "BF16":
        f = (rng.standard_normal(nb) * 10).astype(np.float32)
        return (f.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8)
    raw = rng.integers(0, 256, size=(nb, bsize), dtype=np.uint8)
    for off in F16_FIELDS.get(name, []):
        raw[:, off:off + 2] = rand_f16(rng, nb).view(np.uint8).reshape(nb, 2)
    if name == "Q8_K":
        d = (rng.standard_normal(nb) * 1e-2).astype(np.float32)
        raw[:, 0:4] = d.view(np.uint8).reshape(nb, 4)
    return raw.reshape(-1)


def dequant_numpy(name, raw, nb):
    """Independent numpy dequantizers for the activation types gguf does not ship."""
    if name == "Q8_1":
        b = raw.reshape(nb, 36)
        d = b[:, 0:2].copy().view(np.float16).astype(np.float32)
        q = b[:, 4:].copy().view(np.int8).astype(np.float32)
        return (d * q).reshape(-1)
    if name == "Q8_K":
        b = raw.reshape(nb, 292)
        d = b[:, 0:4].copy().view(np.float32)
        q = b[:, 4:260].copy().view(np.int8).astype(np.float32)
        return (d * q).reshape(-1)
    raise ValueError(name)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261128)
    for name, (gt, belems, bsize, nb) in TYPES.items():
        raw = make_blocks(rng, name, nb, bsize)
        if gt is None:
            y = dequant_numpy(name, raw, nb)
        else:
            y = quants.dequantize(raw, gt).reshape(-1)
        y = np.asarray(y, dtype=np.float32)
        assert y.size == nb * belems, name
        raw.tofile(os.path.join(OUT, name + ".blk"))
        y.astype("<f4").tofile(os.path.join(OUT, name + ".f32"))

    # quantization goldens: gguf's quantizers claim bit-exactness with ggml's reference
    for name, gt in [("Q8_0", T.Q8_0), ("Q4_0", T.Q4_0), ("Q4_1", T.Q4_1), ("Q5_0", T.Q5_0),
                     ("Q5_1", T.Q5_1)]:
        n = 32 * 16
        x = (rng.standard_normal(n) * np.repeat(np.exp2(rng.uniform(-6, 3, n // 32)), 32))
        x = x.astype(np.float32)
        x[64:96] = 0.0  # an all-zero block: d = 0
        q = quants.quantize(x.reshape(1, -1), gt).reshape(-1)
        x.astype("<f4").tofile(os.path.join(OUT, "quant_" + name + ".in"))
        q.astype(np.uint8).tofile(os.path.join(OUT, "quant_" + name + ".blk"))


if __name__ == "__main__":
    main()
