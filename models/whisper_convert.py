"""Turn a CTranslate2 Whisper model into an openai-whisper checkpoint.

CTranslate2 fuses the self-attention q/k/v projections into one matrix and the cross-attention
k/v into another; openai-whisper keeps them apart and has no bias on keys (CTranslate2 stores
zeros there). Everything else is a renaming.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from liveguard.errors import ModelError
from models.ct2 import read_ct2_model

__all__ = ["ct2_to_whisper_checkpoint"]

HEAD_DIM = 64  # every released Whisper size uses 64-dimensional attention heads


def _layer_count(variables: dict, prefix: str) -> int:
    ids = {int(m.group(1)) for k in variables if (m := re.match(rf"{prefix}/layer_(\d+)/", k))}
    return len(ids)


def ct2_to_whisper_checkpoint(model_bin: str | Path, dtype: torch.dtype = torch.float16) -> dict:
    """Return {"dims": ..., "model_state_dict": ...}, the format `whisper.load_model(path)` reads."""
    spec, v = read_ct2_model(model_bin)
    if spec != "WhisperSpec":
        raise ModelError(f"{model_bin}: expected a WhisperSpec model, found {spec!r}")
    sd: dict[str, torch.Tensor] = {}

    def t(name: str) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(v[name]).astype(np.float32)).to(dtype)

    def linear(dst: str, src: str, bias: bool = True) -> None:
        sd[f"{dst}.weight"] = t(f"{src}/weight")
        if bias:
            sd[f"{dst}.bias"] = t(f"{src}/bias")

    def norm(dst: str, src: str) -> None:
        sd[f"{dst}.weight"], sd[f"{dst}.bias"] = t(f"{src}/gamma"), t(f"{src}/beta")

    def self_attention(dst: str, src: str) -> None:
        q, k, val = t(f"{src}/linear_0/weight").chunk(3)
        bq, _, bv = t(f"{src}/linear_0/bias").chunk(3)
        sd.update({f"{dst}.query.weight": q, f"{dst}.query.bias": bq, f"{dst}.key.weight": k,
                   f"{dst}.value.weight": val, f"{dst}.value.bias": bv})
        linear(f"{dst}.out", f"{src}/linear_1")

    def block_tail(dst: str, src: str) -> None:
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")

    for name in ("conv1", "conv2"):
        linear(f"encoder.{name}", f"encoder/{name}")
    sd["encoder.positional_embedding"] = t("encoder/position_encodings/encodings")
    n_enc = _layer_count(v, "encoder")
    for i in range(n_enc):
        self_attention(f"encoder.blocks.{i}.attn", f"encoder/layer_{i}/self_attention")
        block_tail(f"encoder.blocks.{i}", f"encoder/layer_{i}")
    norm("encoder.ln_post", "encoder/layer_norm")

    sd["decoder.token_embedding.weight"] = t("decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = t("decoder/position_encodings/encodings")
    n_dec = _layer_count(v, "decoder")
    for i in range(n_dec):
        dst, src = f"decoder.blocks.{i}", f"decoder/layer_{i}"
        self_attention(f"{dst}.attn", f"{src}/self_attention")
        linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
        k, val = t(f"{src}/attention/linear_1/weight").chunk(2)
        _, bv = t(f"{src}/attention/linear_1/bias").chunk(2)
        sd.update({f"{dst}.cross_attn.key.weight": k, f"{dst}.cross_attn.value.weight": val,
                   f"{dst}.cross_attn.value.bias": bv})
        linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
        norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        block_tail(dst, src)
    norm("decoder.ln", "decoder/layer_norm")

    conv1 = v["encoder/conv1/weight"]
    width = conv1.shape[0]
    dims = dict(
        n_mels=conv1.shape[1],
        n_audio_ctx=v["encoder/position_encodings/encodings"].shape[0],
        n_audio_state=width,
        n_audio_head=width // HEAD_DIM,
        n_audio_layer=n_enc,
        n_vocab=v["decoder/embeddings/weight"].shape[0],
        n_text_ctx=v["decoder/position_encodings/encodings"].shape[0],
        n_text_state=width,
        n_text_head=width // HEAD_DIM,
        n_text_layer=n_dec,
    )
    return {"dims": dims, "model_state_dict": sd}
