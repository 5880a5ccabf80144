#!/usr/bin/env python3
"""Writes the catalogue of hand-made GGUF files (mostly broken) that tests/gguf/catalogue_test.cpp checks and
that seeds the fuzzer. Each case is built byte by byte here, independently of rkchat's writer, and listed in
expected.txt as `<file>\t<substring of the expected error>` (`OK` for files that must parse).
Run from anywhere: python3 tests/data/gguf/make_corpus.py"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR_FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<B",
              U64: "<Q", I64: "<q", F64: "<d"}
T_F32, T_F16, T_Q4_0, T_Q4_1, T_Q8_0, T_Q3_K, T_Q4_K, T_Q5_K, T_Q6_K, T_BF16 = 0, 1, 2, 3, 8, 11, 12, 13, 14, 30
BLOCK = {T_F32: (1, 4), T_F16: (1, 2), T_Q4_0: (32, 18), T_Q4_1: (32, 20), T_Q8_0: (32, 34), T_Q3_K: (256, 110),
         T_Q4_K: (256, 144), T_Q5_K: (256, 176), T_Q6_K: (256, 210), T_BF16: (1, 2)}


def s(text):
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def value(vtype, v):
    if vtype == STRING:
        return s(v)
    if vtype == ARRAY:
        elem, items = v
        return struct.pack("<IQ", elem, len(items)) + b"".join(value(elem, x) for x in items)
    return struct.pack(SCALAR_FMT[vtype], v)


def kv(key, vtype, v):
    return s(key) + struct.pack("<I", vtype) + value(vtype, v)


def tinfo(name, ne, ttype, offset):
    return s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<q", d) for d in ne) + \
        struct.pack("<IQ", ttype, offset)


def nbytes(ttype, ne):
    blck, size = BLOCK[ttype]
    n = 1
    for d in ne:
        n *= d
    return n // blck * size


def gguf(kvs=(), tensors=(), version=3, align=32, n_kv=None, n_tensors=None, data=None, pad=True):
    """tensors: (name, ne, type) laid out back to back with `align`; data defaults to a byte pattern."""
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors) if n_tensors is None else n_tensors,
                                 len(kvs) if n_kv is None else n_kv)
    head += b"".join(kvs)
    body, offset = b"", 0
    for name, ne, ttype in tensors:
        head += tinfo(name, ne, ttype, offset)
        size = nbytes(ttype, ne)
        offset += (size + align - 1) // align * align
    if pad:
        head += b"\0" * (-len(head) % align)
    if data is None:
        data = bytes((i * 7 + 3) & 0xFF for i in range(offset))
    return head + data


def header_only(version=3, n_tensors=0, n_kv=0):
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv)


ALL_VALUES = [
    kv("t.u8", U8, 200), kv("t.i8", I8, -100), kv("t.u16", U16, 60000), kv("t.i16", I16, -30000),
    kv("t.u32", U32, 4000000000), kv("t.i32", I32, -2000000000), kv("t.f32", F32, 1.5), kv("t.bool", BOOL, 1),
    kv("t.string", STRING, "héllo"), kv("t.u64", U64, 2**63 + 5), kv("t.i64", I64, -(2**62)),
    kv("t.f64", F64, 0.1), kv("t.arr_str", ARRAY, (STRING, ["a", "", "ccc"])),
    kv("t.arr_i32", ARRAY, (I32, [1, -2, 3])), kv("t.arr_f32", ARRAY, (F32, [0.5, -1.0])),
    kv("t.nested", ARRAY, (ARRAY, [(U8, [1, 2]), (U8, []), (U8, [3])])),
]
ALL_TENSORS = [("f32", [4, 2], T_F32), ("f16", [8], T_F16), ("bf16", [2, 2], T_BF16), ("q8_0", [64, 2], T_Q8_0),
               ("q4_0", [32], T_Q4_0), ("q4_1", [32, 3], T_Q4_1), ("q4_k", [256], T_Q4_K),
               ("q5_k", [256, 2], T_Q5_K), ("q6_k", [512], T_Q6_K), ("q3_k", [256], T_Q3_K)]
ONE = [("w", [32], T_F32)]


def deep_array(depth):
    v = (U8, [7])
    for _ in range(depth - 1):
        v = (ARRAY, [v])
    return v


def cases():
    valid = gguf(ALL_VALUES, ALL_TENSORS)
    yield "valid_v3_all_types", valid, "OK"
    yield "valid_v2", gguf([kv("general.architecture", STRING, "llama")], ONE, version=2), "OK"
    yield "valid_align64", gguf([kv("general.alignment", U32, 64)], ALL_TENSORS[:4], align=64), "OK"
    yield "valid_vocab_only", gguf([kv("tokenizer.ggml.tokens", ARRAY, (STRING, ["a", "b"]))], pad=False), "OK"
    yield "valid_nested_8", gguf([kv("deep", ARRAY, deep_array(8))]), "OK"

    yield "empty", b"", "truncated file"
    yield "short_magic", b"GG", "truncated file"
    yield "bad_magic", b"GGML" + valid[4:], "bad magic"
    yield "big_endian", b"GGUF" + struct.pack(">IQQ", 3, 0, 0), "foreign byte order"
    yield "version_1", header_only(version=1), "obsolete"
    yield "version_4", header_only(version=4), "unsupported GGUF version 4"
    yield "version_0", header_only(version=0), "unsupported GGUF version 0"
    yield "truncated_counts", valid[:12], "truncated file"
    yield "huge_n_tensors", header_only(n_tensors=2**63), "tensor count"
    yield "n_tensors_past_end", header_only(n_tensors=3), "tensor count"
    yield "huge_n_kv", header_only(n_kv=2**64 - 1), "metadata count"
    yield "n_kv_past_end", gguf([kv("a", U8, 1)], n_kv=2, pad=False), "metadata count"
    yield "key_len_huge", header_only(n_kv=1) + struct.pack("<Q", 2**64 - 1) + b"x" * 16, "key length"
    yield "key_truncated", header_only(n_kv=1) + struct.pack("<Q", 10) + b"abcdefghi" + b"\0" * 4, "truncated file"
    yield "empty_key", gguf([kv("", U8, 1)]), "empty key"
    yield "bad_value_type", gguf([s("k") + struct.pack("<I", 13) + b"\0" * 8]), "invalid value type 13"
    yield "string_len_huge", gguf([s("k") + struct.pack("<IQ", STRING, 2**40) + b"abc"]), "exceeds the limit"
    yield "string_truncated", gguf([s("k") + struct.pack("<IQ", STRING, 100) + b"abc"], pad=False), "truncated file"
    yield "bad_array_type", gguf([s("k") + struct.pack("<IIQ", ARRAY, 99, 1) + b"\0" * 8]), \
        "invalid array element type 99"
    yield "array_len_huge", gguf([s("k") + struct.pack("<IIQ", ARRAY, U8, 2**62) + b"\0" * 8]), "exceeds the limit"
    yield "array_past_end", gguf([s("k") + struct.pack("<IIQ", ARRAY, U32, 1000) + b"\0" * 8]), "does not fit"
    yield "array_too_deep", gguf([kv("deep", ARRAY, deep_array(9))]), "nested deeper"
    yield "bad_bool", gguf([kv("b", BOOL, 2)]), "invalid bool value 2"
    yield "duplicate_key", gguf([kv("a", U8, 1), kv("a", U8, 2)]), "duplicate key in key 'a'"
    yield "alignment_not_u32", gguf([kv("general.alignment", I32, 32)]), "alignment must be u32"
    yield "alignment_zero", gguf([kv("general.alignment", U32, 0)]), "not a power of two"
    yield "alignment_3", gguf([kv("general.alignment", U32, 3)]), "not a power of two"

    def one_tensor(ne, ttype, offset=0, name="w", extra=b""):
        return gguf(n_tensors=1, kvs=[tinfo(name, ne, ttype, offset) + extra], n_kv=0, data=b"\0" * 256)

    yield "n_dims_0", one_tensor([], T_F32), "dimension count 0"
    yield "n_dims_5", one_tensor([1, 1, 1, 1, 1], T_F32), "dimension count 5"
    yield "negative_dim", one_tensor([4, -1], T_F32), "negative dimension"
    yield "ne_overflow", one_tensor([2**40, 2**40], T_F32), "element count overflows"
    yield "size_overflow", one_tensor([2**62, 1], T_F32), "tensor size overflows"
    yield "unknown_type_40", one_tensor([32], 40), "unknown tensor type id 40"
    yield "removed_type_4", one_tensor([32], 4), "unknown tensor type id 4"
    yield "ne0_not_block_multiple", one_tensor([33], T_Q8_0), "not a multiple of the block size 32"
    yield "misaligned_offset", one_tensor([4], T_F32, offset=16), "not a multiple of the alignment 32"
    yield "offset_outside", one_tensor([4], T_F32, offset=4096), "outside the file"
    yield "size_outside", one_tensor([1024], T_F32), "outside the file"
    yield "empty_tensor_name", one_tensor([4], T_F32, name=""), "empty tensor name"
    yield "duplicate_tensor", gguf(tensors=[("w", [32], T_F32), ("w", [32], T_F32)]), \
        "duplicate tensor name in tensor 'w'"
    yield "tensor_info_truncated", gguf(tensors=ONE)[:24 + 9 + 4 + 8 + 4 + 4], "truncated file"
    yield "data_start_past_end", gguf(tensors=ONE, pad=False, data=b""), "data section would start"


def main():
    lines = []
    for name, blob, expected in cases():
        with open(os.path.join(HERE, name + ".gguf"), "wb") as f:
            f.write(blob)
        lines.append(f"{name}.gguf\t{expected}\n")
    with open(os.path.join(HERE, "expected.txt"), "w") as f:
        f.writelines(lines)


if __name__ == "__main__":
    main()
