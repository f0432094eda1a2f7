"""Face detection and descriptors on real faces (scikit-image's astronaut and LFW crops)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import OTHER_FACES, astronaut, lfw_face

from liveguard.errors import ModelError
from vision import faces as faces_mod
from vision.errors import ImageReadError
from vision.faces import EMBEDDING_DIM, FaceEmbedder, FaceOptions, face_distances, face_model_path, load_image


def test_weights_are_found_without_importing_the_package():
    for name in (faces_mod.LANDMARKS_FILE, faces_mod.DESCRIPTOR_FILE):
        assert face_model_path(name).stat().st_size > 1_000_000 or name.startswith("shape_predictor_5")


def test_astronaut_has_one_face_with_a_128d_print(analyzer):
    faces = analyzer.faces(astronaut(), t=3.0)
    assert len(faces) == 1
    face = faces[0]
    left, top, right, bottom = face.box
    assert 150 < left < 210 and 60 < top < 110 and 70 < face.size < 110  # the face, not the suit
    assert face.embedding.shape == (EMBEDDING_DIM,) and face.embedding.dtype == np.float32
    assert face.quality > 0.5 and face.t == 3.0


def test_same_person_close_other_person_far(analyzer):
    full = analyzer.faces(astronaut())[0].embedding
    crop = astronaut()[40:400, 100:420]  # another crop, shifted and smaller
    scaled = np.asarray(__import__("PIL.Image", fromlist=["Image"]).fromarray(crop).resize((240, 270)))
    same = analyzer.faces(scaled)
    assert len(same) == 1
    assert face_distances(same[0].embedding, full)[0, 0] < 0.4
    for idx in OTHER_FACES:
        other = analyzer.faces(lfw_face(idx))
        assert len(other) == 1
        assert face_distances(other[0].embedding, full)[0, 0] > 0.75


def test_no_face_in_a_photo_without_people(analyzer):
    from skimage import data

    assert analyzer.faces(data.coffee()) == []
    assert analyzer.faces(np.zeros((120, 160, 3), np.uint8)) == []


def test_grey_float_and_rgba_inputs_are_accepted(analyzer):
    img = astronaut()
    grey = img.mean(axis=2) / 255.0  # float in [0, 1]
    rgba = np.concatenate([img, np.full(img.shape[:2] + (1,), 255, np.uint8)], axis=2)
    assert len(analyzer.faces(grey)) == 1
    assert len(analyzer.faces(rgba)) == 1


def test_bad_images_raise_image_read_error(analyzer, tmp_path):
    with pytest.raises(ImageReadError, match="channels"):
        analyzer.faces(np.zeros((10, 10, 5), np.uint8))
    with pytest.raises(ImageReadError):
        analyzer.faces("not an array")
    bad = tmp_path / "photo.jpg"
    bad.write_text("not a picture")
    with pytest.raises(ImageReadError, match="not a readable image"):
        load_image(bad)


def test_corrupt_weights_raise_model_error(monkeypatch, tmp_path):
    bad = tmp_path / "broken.dat"
    bad.write_bytes(b"\0" * 100)
    monkeypatch.setattr(faces_mod, "face_model_path", lambda name: bad)
    with pytest.raises(ModelError, match="cannot load dlib face models"):
        FaceEmbedder()


def test_missing_package_raises_model_error(monkeypatch):
    monkeypatch.setattr(faces_mod, "FACE_MODELS_PACKAGE", "no_such_face_models_pkg")
    with pytest.raises(ModelError, match="face-recognition-models"):
        face_model_path(faces_mod.DESCRIPTOR_FILE)


@pytest.mark.parametrize("kwargs", [{"upsample": 5}, {"min_size": 0}, {"jitters": -1}])
def test_options_are_checked(kwargs):
    with pytest.raises(ValueError):
        FaceOptions(**kwargs)


def test_min_size_drops_small_faces():
    from vision.faces import FaceDetector

    assert FaceDetector(FaceOptions(min_size=120)).detect(astronaut()) == []
