"""Faces in sampled frames: dlib's HOG detector, 5-point alignment and 128-d ResNet descriptors.

The weights come from the PyPI package `face-recognition-models==0.3.0` (CC0): its `models/`
folder is located with importlib *without importing the package*, because its `__init__` needs
`pkg_resources`, which setuptools >= 81 no longer ships. dlib itself comes from `dlib-bin`.

Two descriptors of the same person are usually < 0.6 apart (Euclidean); dlib reports 99.38 % on
LFW pairs at that threshold. That is dlib's number on full-resolution colour faces, not ours;
see docs/vision.md for what was measured here.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ingest.decode import VideoFrame
from liveguard.errors import ModelError
from vision.errors import ImageReadError, VisionError

__all__ = ["EMBEDDING_DIM", "FACE_MODEL_ID", "MATCH_DISTANCE", "HOG_WINDOW_PX", "Box", "Face", "FaceOptions", "FaceDetector",
           "FaceEmbedder", "FaceAnalyzer", "face_model_path", "as_rgb", "load_image", "face_distances"]

EMBEDDING_DIM = 128  # dlib_face_recognition_resnet_model_v1 output
MATCH_DISTANCE = 0.6  # dlib's same-person threshold, Euclidean distance between descriptors
FACE_MODELS_PACKAGE = "face_recognition_models"
FACE_MODELS_VERSION = "0.3.0"
FACE_MODEL_ID = f"dlib-resnet-v1@{FACE_MODELS_VERSION}"  # recorded with every face match
LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
# dlib's HOG window is 80 x 80 px: without upsampling it finds faces of about that size and larger.
# To find a face of F px, the frame is examined scaled by HOG_WINDOW_PX / F (detect_scaled).
HOG_WINDOW_PX = 80
MIN_BOX_SHARE = 0.75  # a box under this share of the smallest face asked for is a fragment, not a face

Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels of the frame it came from


def face_model_path(filename: str) -> Path:
    """Path of one .dat file inside the installed face-recognition-models package."""
    spec = importlib.util.find_spec(FACE_MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"face weights missing: install face-recognition-models=={FACE_MODELS_VERSION}")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / filename
    if not path.is_file():
        raise ModelError(f"face weights missing: {path} (reinstall face-recognition-models=={FACE_MODELS_VERSION})")
    return path


@dataclass(frozen=True)
class FaceOptions:
    upsample: int = 1  # HOG pyramid upsampling: 0 finds faces >= ~80 px, 1 >= ~40 px (about 3x slower)
    min_size: int = 40  # faces whose box is smaller than this (pixels, shorter side) are dropped
    # HOG SVM margin. 0 is dlib's default, but with upsampling it finds "faces" on the astronaut's suit at
    # 0.1; true faces in our test images score 0.34 to 1.6.
    min_score: float = 0.25
    jitters: int = 0  # descriptor re-computations on jittered crops (dlib: 100 is 0.1 % better, 100x slower)

    def __post_init__(self):
        if not 0 <= self.upsample <= 3:
            raise ValueError(f"upsample must be in 0..3, got {self.upsample}")
        if self.min_size < 1 or self.jitters < 0:
            raise ValueError(f"need min_size >= 1 and jitters >= 0, got {self.min_size}, {self.jitters}")


@dataclass(frozen=True, eq=False)
class Face:
    t: float  # stream seconds of the frame
    box: Box
    embedding: np.ndarray | None  # float32, EMBEDDING_DIM; None: followed by position only (vision.appearances)
    quality: float  # HOG detection score: larger for sharper, more frontal faces

    @property
    def size(self) -> int:
        return min(self.box[2] - self.box[0], self.box[3] - self.box[1])

    @property
    def rank(self) -> float:
        """How good a frame this is for identity: the HOG score, discounted for faces under 80 px
        (a small face's descriptor is noisier)."""
        return self.quality * min(1.0, self.size / HOG_WINDOW_PX)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """A C-contiguous uint8 H x W x 3 array, which is all dlib accepts."""
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
        raise ImageReadError(f"expected an H x W (x 3) image array, got {getattr(image, 'shape', type(image))}")
    if image.dtype != np.uint8:
        if np.issubdtype(image.dtype, np.floating) and image.max(initial=0) <= 1.0:
            image = image * 255.0
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    elif image.shape[2] == 4:
        image = image[:, :, :3]
    elif image.shape[2] != 3:
        raise ImageReadError(f"expected 1, 3 or 4 channels, got {image.shape[2]}")
    return np.ascontiguousarray(image)


def load_image(path: str | Path) -> np.ndarray:
    """RGB uint8 array of an image file (anything Pillow reads)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return as_rgb(np.asarray(img.convert("RGB")))
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise ImageReadError(f"{path}: not a readable image ({exc})") from exc


def face_distances(embeddings: np.ndarray, prints: np.ndarray) -> np.ndarray:
    """Euclidean distances, shape (len(embeddings), len(prints))."""
    a = np.asarray(embeddings, np.float32).reshape(-1, EMBEDDING_DIM)
    b = np.asarray(prints, np.float32).reshape(-1, EMBEDDING_DIM)
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)


def _dlib():
    try:
        import dlib
    except ImportError as exc:
        raise ModelError("dlib is not installed: pip install dlib-bin==20.0.1.post1") from exc
    return dlib


class FaceDetector:
    """dlib's HOG + linear SVM frontal face detector (CPU, ~20 ms for a 512 x 512 frame)."""

    def __init__(self, opts: FaceOptions = FaceOptions()):
        self.opts = opts
        self._detector = _dlib().get_frontal_face_detector()

    def detect(self, image: np.ndarray) -> list[tuple[Box, float]]:
        img = as_rgb(image)
        h, w = img.shape[:2]
        try:
            rects, scores, _ = self._detector.run(img, self.opts.upsample, self.opts.min_score)
        except RuntimeError as exc:
            raise VisionError(f"face detection failed: {exc}") from exc
        out = []
        for r, s in zip(rects, scores):
            box = (max(0, r.left()), max(0, r.top()), min(w, r.right()), min(h, r.bottom()))
            if min(box[2] - box[0], box[3] - box[1]) >= self.opts.min_size:
                out.append((box, float(s)))
        return out

    def detect_scaled(self, image: np.ndarray, min_face_px: int, region: Box | None = None) -> list[tuple[Box, float]]:
        """Faces of at least `min_face_px` (frame pixels) in `region` (default: the whole frame) of an
        RGB or grey `image`.

        The region is resized by HOG_WINDOW_PX / min_face_px and searched without dlib's 2x
        pyramid upsampling, so a 40 px face costs a 2x image (not dlib's fixed 2x of the whole
        frame for any size) and a 60 px minimum only 1.33x. Boxes are in frame pixels.
        """
        import cv2

        # a grey frame (H x W uint8) is searched as it is: dlib's HOG then takes one channel's gradients
        # instead of the strongest of three (~30 % cheaper; scores ~5-10 % lower)
        img = np.ascontiguousarray(image) if image.ndim == 2 and image.dtype == np.uint8 else as_rgb(image)
        h, w = img.shape[:2]
        x0, y0, x1, y1 = region if region is not None else (0, 0, w, h)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        crop = img[y0:y1, x0:x1]
        scale = HOG_WINDOW_PX / float(min_face_px)
        if min(crop.shape[:2]) * scale < HOG_WINDOW_PX:
            return []  # the region cannot hold a face of that size
        if abs(scale - 1.0) > 1e-3:
            interp = cv2.INTER_LINEAR if scale > 1 else cv2.INTER_AREA
            crop = cv2.resize(crop, (round(crop.shape[1] * scale), round(crop.shape[0] * scale)), interpolation=interp)
        try:
            rects, scores, _ = self._detector.run(np.ascontiguousarray(crop), 0, self.opts.min_score)
        except RuntimeError as exc:
            raise VisionError(f"face detection failed: {exc}") from exc
        out = []
        for r, s in zip(rects, scores):
            box = (max(0, x0 + round(r.left() / scale)), max(0, y0 + round(r.top() / scale)),
                   min(w, x0 + round(r.right() / scale)), min(h, y0 + round(r.bottom() / scale)))
            if min(box[2] - box[0], box[3] - box[1]) >= MIN_BOX_SHARE * min_face_px:
                out.append((box, float(s)))
        return out


class FaceEmbedder:
    """5-point landmarks + dlib's ResNet: a 128-d descriptor per face box (~0.08 s a face on CPU)."""

    model_id = FACE_MODEL_ID

    def __init__(self, jitters: int = 0):
        self.jitters = jitters
        dlib = _dlib()
        try:
            self._shapes = dlib.shape_predictor(str(face_model_path(LANDMARKS_FILE)))
            self._resnet = dlib.face_recognition_model_v1(str(face_model_path(DESCRIPTOR_FILE)))
        except RuntimeError as exc:  # a truncated or corrupt .dat file
            raise ModelError(f"cannot load dlib face models: {exc}") from exc

    def embed(self, image: np.ndarray, boxes: Iterable[Box]) -> np.ndarray:
        dlib = _dlib()
        img = as_rgb(image)
        shapes = dlib.full_object_detections()
        for left, top, right, bottom in boxes:
            shapes.append(self._shapes(img, dlib.rectangle(int(left), int(top), int(right), int(bottom))))
        if len(shapes) == 0:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        try:
            vecs = self._resnet.compute_face_descriptor(img, shapes, self.jitters)
        except RuntimeError as exc:
            raise VisionError(f"face descriptor failed: {exc}") from exc
        return np.array([np.array(v) for v in vecs], np.float32)


class FaceAnalyzer:
    """Detector and embedder together: frames in, `Face` records out."""

    def __init__(self, opts: FaceOptions = FaceOptions()):
        self.opts = opts
        self.detector = FaceDetector(opts)

    @cached_property
    def embedder(self) -> FaceEmbedder:  # loaded on first use: ~0.5 s and 22 MB
        return FaceEmbedder(self.opts.jitters)

    @property
    def model_id(self) -> str:
        return FACE_MODEL_ID

    def faces(self, image: np.ndarray, t: float = 0.0) -> list[Face]:
        img = as_rgb(image)
        found = self.detector.detect(img)
        if not found:
            return []
        embs = self.embedder.embed(img, [box for box, _ in found])
        return [Face(t, box, emb, score) for (box, score), emb in zip(found, embs)]

    def faces_in_frames(self, frames: Iterable[VideoFrame]) -> Iterator[tuple[VideoFrame, list[Face]]]:
        for frame in frames:
            yield frame, self.faces(frame.image, frame.t)
