"""Fixtures for the claims tests: a fast fake embedder (no model) and a labelled toy set."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from claims.evaluate import EvalItem


class CharHashEmbedder:
    """Bag of characters hashed into 64 dims, L2-normalised: fast, deterministic, no weights."""

    name = "test-char-hash"
    dim = 64

    def encode(self, texts):
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            for ch in t:
                out[i, zlib.crc32(ch.encode()) % self.dim] += 1
            out[i] /= max(np.linalg.norm(out[i]), 1e-6)
        return out


@pytest.fixture
def char_embedder():
    return CharHashEmbedder()


@pytest.fixture
def toy_items():
    pos = [("原价{}今天只要九十九", "fake_price"), ("only {} left hurry", "fake_scarcity")]
    items = []
    for k in range(12):
        for text, lab in pos:
            items.append(EvalItem(text.format(1000 + k), frozenset({lab}), template=f"{lab}.{k % 4}"))
        items.append(EvalItem(f"大家晚上好，欢迎{k}号", frozenset(), kind="hard_negative", template=f"neg.{k % 4}"))
        items.append(EvalItem(f"thank you for watching {k}", frozenset(), kind="negative", template=f"negen.{k % 4}"))
    return items
