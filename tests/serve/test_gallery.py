"""POST/GET/DELETE /gallery with real dlib face models on real photos (scikit-image's astronaut;
an LFW crop as a second person), through the FastAPI app."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from serve.app import create_app
from serve.gallery import GALLERY_FILE, gallery_path
from serve.tables import AuditLog
from tests.serve.conftest import auth, problem
from tests.vision.conftest import astronaut, lfw_face

F5_ZH = Path(".cache/testdata/basic_ref_zh.wav")


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    a = astronaut()
    crop = np.ascontiguousarray(a[:300, 80:380])  # the face, smaller upload
    return {"astronaut": _png(crop), "two": _png(np.concatenate([crop, crop], axis=1)),
            "wall": _png(np.full((200, 200, 3), 128, np.uint8)), "other": _png(lfw_face(0, 240))}


def _enrol(client, token, name, *images, kind="protected", accounts=(), voice: bytes | None = None):
    files = [("images", (f"{name}-{i}.png", img, "image/png")) for i, img in enumerate(images)]
    if voice is not None:
        files.append(("voice", ("voice.wav", voice, "audio/wav")))
    data = {"name": name, "kind": kind, "authorised_accounts": list(accounts)}
    return client.post("/gallery", data=data, files=files or None, headers=auth(token))


def test_enrol_list_remove_with_roles_and_audit(client, keys, photos, settings, sessions):
    r = _enrol(client, keys["admin"], "Anchor Li", photos["astronaut"], accounts=["li_official", "li_shop"])
    assert r.status_code == 201, r.text
    assert r.json() == {"name": "Anchor Li", "kind": "protected", "face_prints": 1, "voice_prints": 0,
                        "authorised_accounts": ["li_official", "li_shop"], "added_at": r.json()["added_at"]}
    # a second photo of the same person adds a print
    assert _enrol(client, keys["admin"], "Anchor Li", photos["astronaut"]).json()["face_prints"] == 2
    for role in ("moderator", "regulator", "admin"):
        listing = client.get("/gallery", headers=auth(keys[role]))
        assert listing.status_code == 200
        assert listing.json()["count"] == 1 and "prints" not in listing.text.replace("_prints", "")
    for role in ("moderator", "regulator", "ingest"):
        assert _enrol(client, keys[role], "X", photos["other"]).status_code == 403
        assert client.delete("/gallery/Anchor Li", headers=auth(keys[role])).status_code == 403
    assert client.delete("/gallery/Anchor Li", headers=auth(keys["admin"])).json()["face_prints"] == 2
    assert client.delete("/gallery/Anchor Li", headers=auth(keys["admin"])).status_code == 404
    assert client.get("/gallery", headers=auth(keys["moderator"])).json() == {"data": [], "count": 0}
    with sessions() as s:
        actions = [a.action for a in s.scalars(select(AuditLog).where(AuditLog.entity == "gallery"))]
    assert actions == ["gallery.enrol", "gallery.enrol", "gallery.remove"]


def test_bad_photos_are_422_and_enrol_nothing(client, keys, photos):
    cases = {"wall": "no face found", "two": "2 faces found"}
    for photo, words in cases.items():
        r = _enrol(client, keys["admin"], "P", photos["astronaut"], photos[photo])
        assert r.status_code == 422 and words in problem(r) and "P-1.png" in problem(r), r.text
    r = _enrol(client, keys["admin"], "P", b"\x89PNG but not really")
    assert r.status_code == 422 and "not a readable image" in problem(r)
    r = _enrol(client, keys["admin"], "P")
    assert r.status_code == 422 and "at least one photo" in problem(r)
    assert _enrol(client, keys["admin"], "   ", photos["astronaut"]).status_code == 422
    assert client.get("/gallery", headers=auth(keys["admin"])).json()["count"] == 0


def test_kind_conflict_is_409_and_the_cli_reads_the_same_file(client, keys, photos, settings):
    assert _enrol(client, keys["admin"], "Banned Wang", photos["other"], kind="blacklisted").status_code == 201
    r = _enrol(client, keys["admin"], "Banned Wang", photos["other"], kind="protected")
    assert r.status_code == 409 and "blacklisted" in r.json()["detail"]
    from vision.gallery import Gallery

    path = gallery_path(settings)
    if settings.db_url.startswith("sqlite:///"):
        assert path == Path(settings.db_url[len("sqlite:///"):]).parent / GALLERY_FILE
    else:
        assert path == settings.evidence_dir / GALLERY_FILE
    (entry,) = Gallery.open(path)
    assert entry.name == "Banned Wang" and entry.kind == "blacklisted" and entry.face_prints.shape == (1, 128)


def test_voice_upload_junk_is_422_real_speech_enrols_or_is_501(client, keys, photos):
    r = _enrol(client, keys["admin"], "V", photos["astronaut"], voice=b"RIFF....WAVEjunk")
    assert r.status_code == 422 and "voice.wav" in problem(r)
    if not F5_ZH.exists():
        pytest.skip("run scripts/setup.sh: it extracts the f5-tts speech clip")
    r = _enrol(client, keys["admin"], "V", photos["astronaut"], voice=F5_ZH.read_bytes())
    try:
        from pipeline.voices import enrol_voice  # noqa: F401
    except ImportError:
        assert r.status_code == 501 and "enrol the face only" in r.json()["detail"]
    else:
        assert r.status_code == 201 and r.json()["voice_prints"] == 1, r.text


def test_uploads_have_their_own_body_limit(settings, engine, keys, photos):
    small = settings.model_copy(update={"max_body_bytes": 2048, "max_upload_bytes": 4_000_000})
    with TestClient(create_app(small, engine=engine, start_workers=False)) as c:
        assert len(photos["astronaut"]) > 2048
        assert _enrol(c, keys["admin"], "Big", photos["astronaut"]).status_code == 201
        r = c.post("/flags", content=b"x" * 4096, headers={**auth(keys["ingest"]), "content-type": "application/json"})
        assert r.status_code == 413
        r = _enrol(c, keys["admin"], "Huge", b"x" * 4_100_000)
        assert r.status_code == 413
