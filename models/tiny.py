"""Tiny randomly initialised models with the real architectures, for tests.

They exercise the real loading, batching and decoding code in milliseconds; their output is
gibberish by design.
"""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["TINY_WHISPER_DIMS", "build_tiny_whisper", "save_tiny_whisper", "tiny_e5_checkpoint"]

# n_audio_ctx must stay 1500 (30 s of 10 ms mel frames after the stride-2 conv);
# n_vocab 51865 makes whisper treat it as multilingual, like the default model.
TINY_WHISPER_DIMS = dict(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=1,
                         n_vocab=51865, n_text_ctx=448, n_text_state=64, n_text_head=2, n_text_layer=1)


def build_tiny_whisper(seed: int = 0):
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(seed)
    model = Whisper(ModelDimensions(**TINY_WHISPER_DIMS))
    # openai-whisper leaves the decoder's positional embedding as torch.empty (real checkpoints
    # overwrite it): uninitialised memory, now and then NaN or huge, made tests fail at random.
    with torch.no_grad():
        model.decoder.positional_embedding.normal_(0.0, 0.02)
    return model


def save_tiny_whisper(path: str | Path, seed: int = 0) -> Path:
    model = build_tiny_whisper(seed)
    torch.save({"dims": TINY_WHISPER_DIMS, "model_state_dict": model.state_dict()}, path)
    return Path(path)


def tiny_e5_checkpoint(seed: int = 0, hidden: int = 32, layers: int = 2, heads: int = 2, ffn: int = 64):
    """An E5Checkpoint (models/e5_convert.py) with e5's layout, tiny random weights, a Q4 word table
    and a small unigram vocabulary of ASCII letters, digits, a few words and CJK characters."""
    import numpy as np

    from models.e5_convert import E5Checkpoint

    rng = np.random.default_rng(seed)
    words = ["▁the", "▁best", "▁cure", "▁only", "▁left", "▁price", "▁today", "▁buy", "▁now", "▁doctor"]
    chars = [*"abcdefghijklmnopqrstuvwxyz0123456789", *"原价今天只要九十九最好治病血糖降下来谢谢大家欢迎", "▁"]
    pieces = ["<s>", "<pad>", "</s>", "<unk>", *words, *chars]
    scores = np.array([0.0] * 4 + [-3.0] * len(words) + [-6.0] * len(chars), np.float32)
    vocab, nb = len(pieces), hidden // 32
    blocks = np.zeros((vocab, nb, 18), np.uint8)
    blocks[:, :, :2] = np.full((vocab, nb, 1), 0.05, np.float16).view(np.uint8)
    blocks[:, :, 2:] = rng.integers(0, 256, (vocab, nb, 16), dtype=np.uint8)

    def mat(rows, cols):
        return rng.normal(0, 0.05, rows * cols).astype(np.float32)

    t = {"emb.word.q4": blocks.reshape(-1), "emb.pos": mat(64, hidden), "emb.type": mat(2, hidden),
         "emb.ln.w": np.ones(hidden, np.float32), "emb.ln.b": np.zeros(hidden, np.float32)}
    for i in range(layers):
        for name, (r, c) in {"q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden),
                             "ao": (hidden, hidden), "fi": (ffn, hidden), "fo": (hidden, ffn)}.items():
            t[f"l{i}.{name}.w"] = mat(r, c)
            t[f"l{i}.{name}.b"] = np.zeros(r, np.float32)
        for ln in ("aln", "oln"):
            t[f"l{i}.{ln}.w"] = np.ones(hidden, np.float32)
            t[f"l{i}.{ln}.b"] = np.zeros(hidden, np.float32)
    return E5Checkpoint(hidden, layers, heads, ffn, vocab, 64, 2, 1e-12, pieces, scores, 0, 2, 1, 3,
                        {0x3000: " "}, t)
