"""Tiny randomly initialised models with the real architectures, for tests.

They exercise the real loading, batching and decoding code in milliseconds; their output is
gibberish by design.
"""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["TINY_WHISPER_DIMS", "build_tiny_whisper", "save_tiny_whisper"]

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
