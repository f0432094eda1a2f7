"""`scan` with the default claims detector (rules + the fine-tuned model), end to end: real
espeak-ng speech, real Whisper base, the model built by setup. The spoken claims are indirect
medical claims in wordings that appear nowhere in the training corpus (tests/claims checks the
corpus), which the rules alone do not catch; the lawful advice next to them stays unflagged."""
from __future__ import annotations

import json

import pytest

from liveguard.cli import main
from tests.utils.media import assemble, make_recording

CLAIMS = ["My neighbour drank this tea for a month, and now her doctor says she no longer needs insulin.",
          "Since my father started on these capsules, his tumour has been shrinking."]
LAWFUL = "Please consult your doctor before use."
MEDICAL = {"medical_claim_non_drug", "health_food_overclaim", "efficacy_guarantee"}


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("model-claims")
    audio, placed = assemble([0.5, CLAIMS[0], 1.8, LAWFUL, 1.8, CLAIMS[1], 0.8], tmp)
    return make_recording(tmp / "room.mp4", audio), placed


def _findings(path):
    return [r for r in map(json.loads, path.read_text().splitlines()) if r.get("type") == "finding"]


@pytest.mark.slow
def test_scan_flags_indirect_spoken_medical_claims_with_the_model(room, tmp_path, base_whisper):
    video, placed = room
    combined, rules = tmp_path / "combined.jsonl", tmp_path / "rules.jsonl"
    common = ["--db", "none", "--model", "whisper-base", "--frame-fps", "0", "-q"]
    assert main(["scan", str(video), "--out", str(combined), *common]) == 0
    assert main(["scan", str(video), "--out", str(rules), "--claims", "rules", *common]) == 0
    found = _findings(combined)
    lawful = placed[1]
    flagged = []
    for claim in (placed[0], placed[2]):
        hits = [f for f in found if f["label"] in MEDICAL and f["t0"] < claim.t1 and f["t1"] > claim.t0]
        model = [f for f in hits if "model:claims-e5@" in f["decided_by"]]
        # the evidence is the words that drove the decision, inside what was said, not the whole segment
        assert all(f["evidence"] and f["evidence"] in f["segment_text"] and f["evidence"] != f["segment_text"]
                   and 0 < f["score"] <= 1 for f in model)
        flagged += [claim.text] if model else []
    # The shipped thresholds hold every calibration writer to <= 3% false positives; at that point the
    # capsules/tumour claim is flagged (0.93) and the insulin testimony scores 0.40, under the medical
    # threshold (it was flagged when thresholds were calibrated to 2% pooled, at 4.1% test FPR).
    assert CLAIMS[1] in flagged, found
    assert not [f for f in found if f["t0"] >= lawful.t0 - 0.3 and f["t1"] <= lawful.t1 + 0.3], found
    # the rules alone miss at least one of the two claims: the model is what catches them
    missed = [c for c in (placed[0], placed[2]) if not [f for f in _findings(rules)
                                                      if f["label"] in MEDICAL and f["t0"] < c.t1 and f["t1"] > c.t0]]
    assert missed
