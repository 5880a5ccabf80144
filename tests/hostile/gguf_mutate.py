"""A minimal GGUF (v2/v3) reader and writer for making hostile files: it keeps every key/value and tensor record as
raw bytes with its offset, so that a mutation can patch one field in place (same length) or rebuild the file with
records replaced (any length), the tensor data kept as it was."""
import struct

SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
STRING, ARRAY = 8, 9


class Field:
    """One record of the header: where it starts, where its value starts, its raw bytes."""

    def __init__(self, name, start, value_at, end, vtype=None):
        self.name, self.start, self.value_at, self.end, self.vtype = name, start, value_at, end, vtype


class Gguf:
    def __init__(self, data: bytes):
        self.data = data
        self.version, self.n_tensors, self.n_kv = struct.unpack_from("<IQQ", data, 4)
        pos = 24
        self.kvs = []
        for _ in range(self.n_kv):
            start = pos
            key, pos = self._string(pos)
            vtype = struct.unpack_from("<I", data, pos)[0]
            value_at = pos + 4
            pos = self._skip_value(vtype, value_at)
            self.kvs.append(Field(key, start, value_at, pos, vtype))
        self.tensors = []
        for _ in range(self.n_tensors):
            start = pos
            name, pos = self._string(pos)
            n_dims = struct.unpack_from("<I", data, pos)[0]
            dims_at = pos + 4
            pos = dims_at + 8 * n_dims + 4 + 8
            self.tensors.append(Field(name, start, dims_at, pos))
        self.header_end = pos
        align = self.value("general.alignment") or 32
        self.data_start = (pos + align - 1) // align * align
        self.alignment = align

    def _string(self, pos):
        n = struct.unpack_from("<Q", self.data, pos)[0]
        return self.data[pos + 8:pos + 8 + n].decode("utf-8", "replace"), pos + 8 + n

    def _skip_value(self, vtype, pos):
        if vtype in SCALARS:
            return pos + struct.calcsize("<" + SCALARS[vtype])
        if vtype == STRING:
            return pos + 8 + struct.unpack_from("<Q", self.data, pos)[0]
        if vtype == ARRAY:
            itype, n = struct.unpack_from("<IQ", self.data, pos)
            pos += 12
            if itype in SCALARS:
                return pos + n * struct.calcsize("<" + SCALARS[itype])
            for _ in range(n):
                pos = self._skip_value(itype, pos)
            return pos
        raise ValueError(f"unknown GGUF type {vtype}")

    def kv(self, name):
        return next((f for f in self.kvs if f.name == name), None)

    def value(self, name):
        f = self.kv(name)
        if f is None or f.vtype not in SCALARS:
            return None
        return struct.unpack_from("<" + SCALARS[f.vtype], self.data, f.value_at)[0]

    def arch(self):
        f = self.kv("general.architecture")
        return self._string(f.value_at)[0] if f else ""

    # --- mutations -------------------------------------------------------------------------------------------
    def patch(self, offset, fmt, value):
        """The file with one field overwritten in place."""
        out = bytearray(self.data)
        struct.pack_into("<" + fmt, out, offset, value)
        return bytes(out)

    def rebuild(self, replace=None, drop=(), add=None):
        """The file with key/values replaced (name -> raw record bytes from kv_record), dropped or added; the tensor
        records and data are kept and the data section re-aligned."""
        replace, add = replace or {}, add or []
        records = []
        for f in self.kvs:
            if f.name in drop:
                continue
            records.append(replace.get(f.name, self.data[f.start:f.end]))
        records += add
        header = b"GGUF" + struct.pack("<IQQ", self.version, self.n_tensors, len(records))
        body = header + b"".join(records) + self.data[self.kvs[-1].end:self.header_end]
        pad = (-len(body)) % self.alignment
        return body + b"\0" * pad + self.data[self.data_start:]


def kv_string(name, text):
    raw = text.encode() if isinstance(text, str) else text
    key = name.encode()
    return struct.pack("<Q", len(key)) + key + struct.pack("<IQ", STRING, len(raw)) + raw


def kv_scalar(name, vtype, value):
    key = name.encode()
    return struct.pack("<Q", len(key)) + key + struct.pack("<I", vtype) + struct.pack("<" + SCALARS[vtype], value)
