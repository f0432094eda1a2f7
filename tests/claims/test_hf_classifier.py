"""The transformers path, on a tiny randomly initialised BERT built here (no hub downloads)."""
import json

import pytest

pytest.importorskip("transformers")

from claims import ClaimDetector  # noqa: E402
from claims.hf_classifier import SIDECAR, HFClassifierDetector, HFTrainOptions, train_hf  # noqa: E402
from claims.normalize import normalize  # noqa: E402
from liveguard.errors import ModelError  # noqa: E402


@pytest.fixture
def tiny_bert_dir(tmp_path, toy_items):
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    chars = sorted({c for it in toy_items for c in normalize(it.text).text.lower() if not c.isspace()} | set("abc0123"))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + [f"##{c}" for c in chars]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"), do_lower_case=True)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64, num_labels=2)
    init = tmp_path / "init"
    BertForSequenceClassification(cfg).save_pretrained(init)
    tok.save_pretrained(init)
    return init


def test_train_load_detect(tmp_path, tiny_bert_dir, toy_items):
    out = tmp_path / "out"
    report = train_hf(tiny_bert_dir, toy_items, out, HFTrainOptions(epochs=3, lr=1e-3, batch_size=8, max_length=32))
    assert len(report["epoch_losses"]) == 3 and report["epoch_losses"][-1] < report["epoch_losses"][0]
    side = json.loads((out / SIDECAR).read_text())
    assert len(side["labels"]) == 16 and set(side["thresholds"]) == set(side["labels"])
    det = HFClassifierDetector.load(out)
    assert isinstance(det, ClaimDetector) and det.name == "model:hf-out@1"
    probs = det.proba(["原价1999今天只要九十九", "thank you"])
    assert probs.shape == (2, 16) and ((probs >= 0) & (probs <= 1)).all()
    for hit in det.detect("原价1999今天只要九十九"):
        assert hit.decided_by == "model:hf-out@1" and hit.text == "原价1999今天只要九十九"


def test_cli_eval_with_checkpoint(tmp_path, tiny_bert_dir, toy_items, capsys):
    from tests.claims.test_cli import run_cli

    out = tmp_path / "out"
    train_hf(tiny_bert_dir, toy_items, out, HFTrainOptions(epochs=1, batch_size=16, max_length=32))
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "原价1999今天只要99", "labels": ["fake_price"]}\n', encoding="utf-8")
    code, stdout, _ = run_cli(["claims", "eval", str(data), "--detector", "classifier", "--hf-checkpoint", str(out),
                               "--json"], capsys)
    assert code == 0 and json.loads(stdout)["name"] == "model:hf-out@1"


def test_bad_checkpoint(tmp_path):
    with pytest.raises(ModelError, match="config.json"):
        HFClassifierDetector.load(tmp_path)


def test_options_validated():
    with pytest.raises(ValueError):
        HFTrainOptions(epochs=0)
