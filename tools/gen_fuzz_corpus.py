#!/usr/bin/env python3
"""tools/gen_fuzz_corpus.py: write the tiny valid GGUF seed files for tests/fuzz/corpus_gguf/
with the reference writer (the `gguf` package), so the fuzzer starts from real layouts.
Usage: tools/gen_fuzz_corpus.py [OUT_DIR]   (default tests/fuzz/corpus_gguf)"""
import os
import sys

import numpy as np
from gguf import GGUFWriter, GGMLQuantizationType


def write(path, build):
    w = GGUFWriter(path, arch="llama")
    build(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def kv_only(w):
    w.add_uint8("u8", 200)
    w.add_int8("i8", -5)
    w.add_uint16("u16", 60000)
    w.add_int16("i16", -30000)
    w.add_uint32("u32", 4000000000)
    w.add_int32("i32", -2000000000)
    w.add_float32("f32", 1.5)
    w.add_bool("bool", True)
    w.add_string("s", "héllo")
    w.add_uint64("u64", 1 << 40)
    w.add_int64("i64", -(1 << 40))
    w.add_float64("f64", 2.25)
    w.add_array("arr_i32", [1, -2, 3])
    w.add_array("arr_str", ["a", "", "ccc"])
    w.add_array("arr_f32", [0.5, 1.5])


def tensors(w):
    w.add_uint32("llama.block_count", 1)
    w.add_tensor("f32", np.arange(8, dtype=np.float32).reshape(2, 4))
    w.add_tensor("f16", np.ones((3, 2), dtype=np.float16))
    w.add_tensor("q8", np.zeros((1, 34), dtype=np.uint8), raw_dtype=GGMLQuantizationType.Q8_0)
    w.add_tensor("q4", np.zeros((2, 18), dtype=np.uint8), raw_dtype=GGMLQuantizationType.Q4_0)


def aligned64(w):
    w.add_custom_alignment(64)
    w.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "a", "b"])
    w.add_array("tokenizer.ggml.scores", [0.0, 0.0, -1.0, -2.0])
    w.add_tensor("token_embd.weight", np.ones((4, 8), dtype=np.float32))
    w.add_tensor("empty", np.zeros((0,), dtype=np.float32))
    w.add_tensor("bias", np.ones((3,), dtype=np.float32))


def kquant(w):
    w.add_tensor("q4k", np.zeros((1, 144), dtype=np.uint8), raw_dtype=GGMLQuantizationType.Q4_K)
    w.add_tensor("q6k", np.zeros((2, 210), dtype=np.uint8), raw_dtype=GGMLQuantizationType.Q6_K)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus_gguf"
    os.makedirs(out, exist_ok=True)
    for name, build in [("kv_only", kv_only), ("tensors", tensors), ("aligned64", aligned64),
                        ("kquant", kquant), ("minimal", lambda w: None)]:
        path = os.path.join(out, name + ".gguf")
        write(path, build)
        assert os.path.getsize(path) < 10 * 1024, path


if __name__ == "__main__":
    main()
