import dataclasses

import pytest

import claims
from claims import LABELS, ClaimDetector, ClaimHit, Label, RuleDetector, get_label

EXPECTED_IDS = {
    "absolute_terms", "medical_claim_non_drug", "health_food_overclaim", "efficacy_guarantee",
    "disguised_health_ad", "fake_price", "fake_scarcity", "fake_social_proof", "false_origin_cert",
    "false_authority_identity", "ai_impersonation", "undisclosed_ai_content", "investment_guarantee",
    "disparagement", "fear_inducement", "off_platform_diversion", "claim_contradicts_listing",
}


def test_all_17_labels_present_and_ban_evasion():
    from claims.taxonomy import IDENTITY_ONLY, TEXT_LABELS

    assert set(LABELS) == EXPECTED_IDS | {"ban_evasion"}
    assert set(TEXT_LABELS) == EXPECTED_IDS and len(TEXT_LABELS) == 17
    assert IDENTITY_ONLY == {"ban_evasion"} and LABELS["ban_evasion"].severity == "high"


def test_label_fields():
    for lid, label in LABELS.items():
        assert label.id == lid
        assert label.severity in {"high", "medium", "low"}
        assert label.name_zh and label.name_en and label.definition and label.legal_basis
    assert LABELS["medical_claim_non_drug"].severity == "high"
    assert LABELS["absolute_terms"].legal_basis == "Advertising Law Art. 9(3)"


def test_label_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        LABELS["fake_price"].severity = "low"  # type: ignore[misc]


def test_get_label():
    assert get_label("fake_price") is LABELS["fake_price"]
    with pytest.raises(ValueError) as exc:
        get_label("nope")
    assert "absolute_terms" in str(exc.value) and "nope" in str(exc.value)


def test_all_exports():
    expected = {"Label", "LABELS", "get_label", "ClaimHit", "ClaimDetector", "normalize",
                "Normalized", "RuleSet", "RuleDetector", "RuleFileError",
                "ClassifierDetector", "LinearHead", "CombinedDetector", "Classification", "ListingDetector",
                "load_listing", "make_detector", "CLAIMS_MODES", "LazyModel", "ModelDetector",
                "Listing", "ListingError", "ListingFinding", "check_listing", "evaluate", "EvalReport"}
    assert set(claims.__all__) == expected
    for name in claims.__all__:
        assert hasattr(claims, name)


def test_rule_detector_implements_protocol():
    det = RuleDetector()
    assert isinstance(det, ClaimDetector)
    assert det.name == "rules"
    hits = det.detect("全网最低价", lang="zh")
    assert hits and all(isinstance(h, ClaimHit) for h in hits)


def test_claimhit_frozen_and_label_type():
    hit = ClaimHit("fake_price", 0, 1, "x", 0.5, "rule:x@1", "basis")
    with pytest.raises(dataclasses.FrozenInstanceError):
        hit.score = 1.0  # type: ignore[misc]
    assert isinstance(LABELS["fake_price"], Label)
