"""`liveguard gallery calibrate-face` on the two real people that install offline (issue #14)."""

import argparse

from liveguard.face_calibration import calibrate_face, face_variants, identities
from liveguard.vision_cli import add_vision_parsers


def test_calibrate_face_prints_the_table_for_two_identities(capsys):
    parser = argparse.ArgumentParser()
    add_vision_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["gallery", "calibrate-face", "--variants", "3"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "Eileen Collins" in out and "Grace Hopper" in out
    assert "FAR" in out and "FRR" in out and "<- in use" in out
    assert "same person" in out and "different real people" in out


def test_same_person_probes_are_closer_than_the_other_person(analyzer):
    report = calibrate_face(identities(), variants=3, analyzer=analyzer)
    found = [p for p in report.probes if p.found]
    assert len(found) >= 4 and {p.identity for p in found} == {"Eileen Collins", "Grace Hopper"}
    for p in found:  # every probe is nearer its own enrolment than the other person's
        other = next(v for k, v in p.distances.items() if k != p.identity)
        assert p.distances[p.identity] < other
    assert report.frr(0.7) == 0.0 and report.far(0.3) == 0.0


def test_variants_put_the_face_at_the_asked_size(analyzer):
    person = identities()[0]
    (box, _), = analyzer.detector.detect(person.image)
    for name, frame in face_variants(person.image, box, 2):
        size = int(name.split("px")[0])
        assert frame.shape[:2] == (4 * size, 4 * size)
