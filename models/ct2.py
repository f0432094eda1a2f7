"""Reader for CTranslate2's `model.bin` format (binary version 6, as written by CTranslate2 4.x).

Layout, little-endian:
    u32 binary_version; str spec_name; u32 spec_revision; u32 n_variables;
    n_variables x { str name; u8 rank; u32 dims[rank]; u8 dtype; u32 n_bytes; bytes data }
    u32 n_aliases; n_aliases x { str alias; str target }
where `str` is a u16 length (including a trailing NUL) followed by the bytes.

The arrays are views into one memory map, so a 145 MB model costs no extra copy until a
variable is converted.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from liveguard.errors import ModelError

__all__ = ["read_ct2_model"]

SUPPORTED_VERSIONS = (5, 6)
# CTranslate2's DataType enum, in order.
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class _Cursor:
    def __init__(self, buf: np.ndarray):
        self.buf = buf
        self.pos = 0

    def unpack(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise ModelError("CTranslate2 model.bin is truncated")
        values = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return values[0] if len(values) == 1 else values

    def string(self) -> str:
        length = self.unpack("<H")
        raw = bytes(self.buf[self.pos : self.pos + length - 1])
        self.pos += length
        return raw.decode("utf-8")


def read_ct2_model(path: str | Path) -> tuple[str, dict[str, np.ndarray]]:
    """Return (spec name, {variable name: array}) with aliases resolved."""
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    cur = _Cursor(buf)
    version = cur.unpack("<I")
    if version not in SUPPORTED_VERSIONS:
        raise ModelError(f"{path}: CTranslate2 binary version {version} is not one of {SUPPORTED_VERSIONS}")
    spec = cur.string()
    cur.unpack("<I")  # spec revision: nothing depends on it yet
    variables: dict[str, np.ndarray] = {}
    for _ in range(cur.unpack("<I")):
        name = cur.string()
        rank = cur.unpack("<B")
        dims = [cur.unpack("<I") for _ in range(rank)]
        dtype_id = cur.unpack("<B")
        n_bytes = cur.unpack("<I")
        if dtype_id not in DTYPES:
            raise ModelError(f"{path}: variable {name} has unknown dtype id {dtype_id}")
        if cur.pos + n_bytes > len(buf):
            raise ModelError(f"{path}: truncated inside variable {name}")
        arr = np.frombuffer(buf, dtype=DTYPES[dtype_id], count=n_bytes // np.dtype(DTYPES[dtype_id]).itemsize, offset=cur.pos)
        variables[name] = arr.reshape(dims)
        cur.pos += n_bytes
    if cur.pos < len(buf):
        for _ in range(cur.unpack("<I")):
            alias, target = cur.string(), cur.string()
            if target in variables:
                variables[alias] = variables[target]
    return spec, variables
