"""The gallery file and `liveguard gallery add|list|remove`."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from conftest import astronaut, lfw_face, save_png

from liveguard.errors import LiveGuardError
from liveguard.vision_cli import add_vision_parsers
from vision.errors import GalleryError, MultipleFacesError, NoFaceError
from vision.faces import FACE_MODEL_ID
from vision.gallery import Gallery, enrol_face


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """The gallery commands as `liveguard` runs them: LiveGuardError -> message, exit 1."""
    parser = argparse.ArgumentParser(prog="liveguard")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench").add_subparsers(dest="bench", required=True)
    add_vision_parsers(sub, bench)
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except LiveGuardError as exc:
        print(f"error: {type(exc).__name__}: {exc}")
        rc = 1
    return rc, capsys.readouterr().out


def test_round_trip_several_prints_and_accounts(gallery_path):
    g = Gallery.open(gallery_path)
    assert len(g) == 0
    rng = np.random.default_rng(0)
    g.add("Anchor Li", face_prints=rng.normal(size=(1, 128)), authorised_accounts=["li_official"])
    g.add("Anchor Li", face_prints=rng.normal(size=(2, 128)), authorised_accounts=["Li_Official ", "li_shop"])
    g.add("Dr Wang", face_prints=rng.normal(size=128))
    g.save()
    back = Gallery.open(gallery_path)
    assert back.names() == ["Anchor Li", "Dr Wang"]
    li = back.get("Anchor Li")
    assert li.face_prints.shape == (3, 128)
    assert li.authorises("LI_OFFICIAL") and li.authorises("li_shop") and not li.authorises("reseller9")
    assert not li.authorises(None)
    prints, owners = back.face_matrix()
    assert prints.shape == (4, 128) and [o.name for o in owners].count("Anchor Li") == 3
    back.remove("Dr Wang")
    back.save()
    assert Gallery.open(gallery_path).names() == ["Anchor Li"]


def test_gallery_errors(gallery_path):
    g = Gallery.open(gallery_path)
    with pytest.raises(GalleryError, match="no gallery entry named 'nobody'"):
        g.remove("nobody")
    with pytest.raises(GalleryError, match="needs at least one"):
        g.add("Empty")
    with pytest.raises(GalleryError, match="kind must be"):
        g.add("X", face_prints=np.zeros(128), kind="vip")
    gallery_path.write_text("{not json")
    with pytest.raises(GalleryError, match="not a readable gallery"):
        Gallery.open(gallery_path)
    gallery_path.write_text(json.dumps({"format": 1, "face_model": "other-model@9", "entries": []}))
    with pytest.raises(GalleryError, match="re-enrol"):
        Gallery.open(gallery_path)


def test_enrol_needs_exactly_one_face(analyzer):
    from skimage import data

    assert enrol_face(analyzer, astronaut()).shape == (128,)
    with pytest.raises(NoFaceError, match="no face found"):
        enrol_face(analyzer, data.coffee())
    two = np.concatenate([astronaut(), astronaut()[:, ::-1]], axis=1)
    with pytest.raises(MultipleFacesError, match="2 faces found"):
        enrol_face(analyzer, two)


def test_cli_add_list_remove(tmp_path, capsys):
    gallery = tmp_path / "g.json"
    photo = save_png(astronaut(), tmp_path / "collins.png")
    photo2 = save_png(astronaut()[20:420, 60:460], tmp_path / "collins_crop.png")
    rc, out = run_cli(["gallery", "--gallery", str(gallery), "add", "--name", "Eileen Collins",
                       "--image", str(photo), str(photo2), "--authorised-account", "nasa_shop"], capsys)
    assert rc == 0 and "2 face print(s)" in out and "nasa_shop" in out
    data = json.loads(gallery.read_text())
    assert data["face_model"] == FACE_MODEL_ID and len(data["entries"][0]["face_prints"]) == 2
    rc, out = run_cli(["gallery", "--gallery", str(gallery), "list"], capsys)
    assert rc == 0 and "Eileen Collins" in out and "nasa_shop" in out
    rc, out = run_cli(["gallery", "--gallery", str(gallery), "list", "--json"], capsys)
    assert json.loads(out)[0]["face_prints"] == 2
    rc, out = run_cli(["gallery", "--gallery", str(gallery), "remove", "--name", "Eileen Collins"], capsys)
    assert rc == 0 and "removed Eileen Collins" in out
    assert Gallery.open(gallery).names() == []


def test_cli_refuses_photos_without_one_face_and_writes_nothing(tmp_path, capsys, monkeypatch):
    from skimage import data

    gallery = tmp_path / "g.json"
    monkeypatch.setenv("LIVEGUARD_GALLERY", str(gallery))
    good = save_png(lfw_face(0), tmp_path / "person.png")
    cat = save_png(data.chelsea(), tmp_path / "cat.png")
    two = save_png(np.concatenate([astronaut(), astronaut()[:, ::-1]], axis=1), tmp_path / "two.png")
    rc, out = run_cli(["gallery", "add", "--name", "P", "--image", str(good), str(cat)], capsys)
    assert rc == 1 and "NoFaceError" in out and "cat.png" in out
    rc, out = run_cli(["gallery", "add", "--name", "P", "--image", str(two)], capsys)
    assert rc == 1 and "MultipleFacesError" in out and "crop the photo" in out
    assert not gallery.exists()
    rc, out = run_cli(["gallery", "remove", "--name", "P"], capsys)
    assert rc == 1 and "GalleryError" in out
