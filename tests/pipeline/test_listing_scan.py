"""`scan --listing` / `monitor --listing`: what the host says is checked against the listing of the
product on sale (claim_contradicts_listing), end to end with real Whisper; a bad listing file is a
clear error naming the file before any work starts."""

import json

import pytest

from claims import ListingDetector, Listing, ListingError, load_listing
from liveguard.cli import main
from tests.utils.media import assemble, make_recording

LISTING = {"title": "夏季连衣裙", "category": "apparel", "material": "100% cotton", "origin": "China", "price": 199}


@pytest.fixture(scope="module")
def silk_shirt(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("listing")
    audio, _ = assemble([0.5, "Welcome everyone.", 0.6, "This shirt is real silk.", 0.6, "It is imported from Japan.",
                         0.8], tmp)
    return make_recording(tmp / "shirt.mp4", audio)


def _labels(report):
    return [r for r in map(json.loads, report.read_text().splitlines()) if r.get("type") == "finding"]


@pytest.mark.slow
def test_scan_flags_a_spoken_claim_that_contradicts_the_listing(silk_shirt, tmp_path, base_whisper):
    listing = tmp_path / "listing.json"
    listing.write_text(json.dumps(LISTING))
    with_listing, without = tmp_path / "with.jsonl", tmp_path / "without.jsonl"
    common = ["--db", "none", "--model", "whisper-base", "-q"]
    assert main(["scan", str(silk_shirt), "--out", str(with_listing), "--listing", str(listing), *common]) == 0
    assert main(["scan", str(silk_shirt), "--out", str(without), *common]) == 0
    found = {f["decided_by"].split("@")[0]: f for f in _labels(with_listing)
             if f["label"] == "claim_contradicts_listing"}
    assert set(found) == {"listing:material", "listing:origin"}, found  # silk vs cotton, Japan vs China
    assert "silk" in found["listing:material"]["evidence"].lower() and found["listing:material"]["legal_basis"]
    assert "japan" in found["listing:origin"]["evidence"].lower()
    assert not [f for f in _labels(without) if f["label"] == "claim_contradicts_listing"]


def test_a_bad_listing_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"category": "clothing"}')
    with pytest.raises(ListingError, match="bad.json.*category"):
        load_listing(bad)
    with pytest.raises(ListingError, match="not JSON"):
        (tmp_path / "x.json").write_text("{oops")
        load_listing(tmp_path / "x.json")
    assert main(["scan", str(tmp_path), "--listing", str(bad), "--db", "none", "-q"]) != 0
    assert "bad.json" in capsys.readouterr().err


def test_the_listing_detector_keeps_the_rules_and_adds_the_listing_checks():
    det = ListingDetector(Listing.from_dict(LISTING))
    hits = {h.label for h in det.detect("This dress is made of pure silk, the best dress in the world.", "en")}
    assert hits == {"claim_contradicts_listing", "absolute_terms"}
    assert {h.label for h in det.detect("This dress is 100% cotton.", "en")} == set()


def test_monitor_checks_each_stream_against_its_own_listing(tmp_path):
    import argparse

    import numpy as np

    from asr.transcriber import WindowTranscript
    from asr.types import Segment
    from claims import RuleDetector
    from ingest.windows import Window
    from liveguard.monitor_cli import _listing_detectors
    from pipeline.live import LiveProcessor

    cotton = tmp_path / "cotton.json"
    cotton.write_text(json.dumps(LISTING))
    detectors = _listing_detectors(argparse.Namespace(listing=[str(cotton), ""]), ["shirts", "scarves"])
    assert set(detectors) == {"shirts"}  # the second stream has no listing: bundled rules only
    with pytest.raises(SystemExit, match="one --listing for all streams or one per URL"):
        _listing_detectors(argparse.Namespace(listing=[str(cotton)] * 2), ["a", "b", "c"])

    proc = LiveProcessor(RuleDetector(), tmp_path / "clips", detectors=detectors)
    said = "This shirt is real silk."
    labels = {}
    for sid in ("shirts", "scarves"):
        seg = Segment(sid, 10.0, 12.0, said, "en", -0.3, 0.05, 1.1)
        wt = WindowTranscript(Window(sid, 1, 8.0, np.zeros(8 * 16000, np.float32)), [seg], 2.0)
        labels[sid] = [r["label"] for r in proc.process(wt, 0.0, None) if r["type"] == "finding"]
    assert labels == {"shirts": ["claim_contradicts_listing"], "scarves": []}


def test_two_contradictions_in_one_segment_are_two_findings(tmp_path):
    """Whisper on some CPUs puts "real silk" and "from Japan" in one segment: the moderator still
    gets one finding per contradicted field, each with its own words, also after a restart."""
    import numpy as np

    from asr.transcriber import WindowTranscript
    from asr.types import Segment
    from ingest.windows import Window
    from pipeline.findings import find_claims
    from pipeline.live import LiveProcessor

    det = ListingDetector(Listing.from_dict(LISTING))
    seg = Segment("s", 0.3, 6.9, "Welcome everyone. This shirt is real silk. It is imported from Japan.", "en",
                  -0.3, 0.05, 1.1)
    found = {f.decided_by.split("@")[0]: f.evidence.lower()
             for f in find_claims([seg], det, "s") if f.label == "claim_contradicts_listing"}
    assert set(found) == {"listing:material", "listing:origin"}
    assert "silk" in found["listing:material"] and "japan" in found["listing:origin"]

    # a restart that reads back its own report (one of the two written before a kill) adds the other only
    proc = LiveProcessor(det, tmp_path / "clips")
    audio = np.zeros(8 * 16000, np.float32)
    wt = WindowTranscript(Window("s", 1, 0.0, audio), [seg], 2.0)
    first = [r for r in proc.process(wt, 0.0, None) if r.get("label") == "claim_contradicts_listing"]
    assert len(first) == 2
    again = LiveProcessor(det, tmp_path / "clips2")
    again.reported["s"] = [r for r in first if r["decided_by"].startswith("listing:material")]
    read_back = WindowTranscript(Window("s", 1, 0.0, audio, recovered=True), [seg], 2.0)
    redo = [r for r in again.process(read_back, 0.0, None) if r.get("label") == "claim_contradicts_listing"]
    assert [r["decided_by"].split("@")[0] for r in redo] == ["listing:origin"]
