"""The plain-PyTorch encoder that runs the claims model computes what transformers' BertModel
computes: same outputs on random weights and on the built model, padding included, and the
product path loads without importing transformers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from models.tiny import tiny_e5_checkpoint

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


def test_lite_encoder_matches_transformers_on_random_weights():
    from claims.bert_lite import build_lite_bert
    from claims.encoder import build_bert

    ckpt = tiny_e5_checkpoint(seed=3)  # its word table is Q4 only: both get the same random one
    hf, lite = build_bert(ckpt, skip_words=True), build_lite_bert(ckpt)
    lite.embeddings.word_embeddings = hf.embeddings.word_embeddings
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, hf.embeddings.word_embeddings.num_embeddings, (3, 11), generator=g)
    mask = torch.ones(3, 11, dtype=torch.long)
    mask[1, 7:] = 0  # padded rows must not leak into the real tokens
    mask[2, 3:] = 0
    with torch.inference_mode():
        want = hf(input_ids=ids, attention_mask=mask).last_hidden_state
        got = lite(ids, mask).last_hidden_state
    real = mask.bool()
    assert torch.allclose(got[real], want[real], atol=1e-5), float((got - want)[real].abs().max())


def _built_model_dir():
    from claims.build_model import check_built, claims_model_dir
    from liveguard.errors import ModelError

    try:
        d = claims_model_dir()
        check_built(d)
        return d
    except ModelError:
        pytest.skip("the claims model is not built (make setup builds it)")


def test_lite_encoder_gives_the_built_models_logits():
    from claims.encoder import E5Tokenizer
    from claims.model import load_claims_net
    from claims.model_detector import predict
    from models.e5_convert import read_e5

    d = _built_model_dir()
    ckpt = read_e5(words="q4")
    tok = E5Tokenizer.from_checkpoint(ckpt)
    texts = ["我妈喝了仨月，降糖药都减了一半", "Drink it every day and your diabetes will be cured.", "hello",
             "原价一千九百九十九，今天直播间只要九十九，全网最低价，没有之一", "Please consult your doctor before use."]
    lite = predict(load_claims_net(d, ckpt)[0], tok, texts, 256)
    hf = predict(load_claims_net(d, ckpt, lite=False)[0], tok, texts, 256)
    assert np.abs(lite.logits - hf.logits).max() < 1e-3
    assert max(float(np.abs(a - b).max()) for a, b in zip(lite.attention, hf.attention)) < 1e-4


def test_running_the_model_does_not_import_transformers():
    _built_model_dir()
    code = ("import sys; from claims.model_detector import ModelDetector; "
            "d = ModelDetector.load(); d.proba(['全网最低价']); print('transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr[-2000:]


def test_precision_is_float_by_default_and_int8_only_when_asked(monkeypatch):
    from claims.finetune import cpu_has_bf16
    from claims.model_detector import resolve_precision
    from claims.ort_runtime import ort_available
    from liveguard.errors import ConfigError

    monkeypatch.delenv("LIVEGUARD_CLAIMS_PRECISION", raising=False)
    # float: bf16 where native, else fp32 in ONNX Runtime (the same logits as PyTorch's fp32)
    assert resolve_precision("auto") == ("bf16" if cpu_has_bf16() else "ort" if ort_available() else "fp32")
    monkeypatch.setenv("LIVEGUARD_CLAIMS_PRECISION", "int8")
    assert resolve_precision("auto") == "int8" and resolve_precision("fp32") == "fp32"
    monkeypatch.setenv("LIVEGUARD_CLAIMS_PRECISION", "fp32")
    assert resolve_precision("auto") == "fp32"
    monkeypatch.setenv("LIVEGUARD_CLAIMS_PRECISION", "int4")
    with pytest.raises(ConfigError, match="LIVEGUARD_CLAIMS_PRECISION"):
        resolve_precision("auto")
