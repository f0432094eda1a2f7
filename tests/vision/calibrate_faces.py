"""Measure the face path on the real faces available offline (not a test; run by hand).

    .venv/bin/python tests/vision/calibrate_faces.py

Prints: astronaut distances under photo/recording changes; LFW-subset detection rates for faces
and non-faces; the distribution of distances between the LFW-subset faces (identities unknown:
most pairs are different people); and face-path speed on a 640 x 360 frame. Numbers go into
docs/vision.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import _skimage_data, astronaut  # noqa: E402

from vision.faces import FaceAnalyzer, FaceOptions, face_distances  # noqa: E402


def jpeg(img: np.ndarray, q: int) -> np.ndarray:
    import io

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=q)
    return np.asarray(Image.open(buf).convert("RGB"))


def main() -> None:
    an = FaceAnalyzer()
    ref = an.faces(astronaut())[0].embedding
    pil = Image.fromarray(astronaut())
    variants = {
        "crop+rescale 0.8": np.asarray(pil.crop((60, 30, 420, 390)).resize((288, 288))),
        "mirror": astronaut()[:, ::-1],
        "grey": np.asarray(pil.convert("L").convert("RGB")),
        "half size (face 44 px)": np.asarray(pil.resize((256, 256))),
        "gaussian blur r=2": np.asarray(pil.filter(ImageFilter.GaussianBlur(2))),
        "jpeg q=15": jpeg(astronaut(), 15),
        "rotated 12 deg": np.asarray(pil.rotate(12)),
        "dim x0.5": (astronaut() * 0.5).astype(np.uint8),
    }
    print("astronaut vs enrolled photo (distance; 0.6 = threshold)")
    for name, img in variants.items():
        faces = an.faces(np.ascontiguousarray(img))
        d = [round(float(face_distances(f.embedding, ref)[0, 0]), 3) for f in faces]
        print(f"  {name:24s} faces={len(faces)} distance={d}")

    from skimage import transform

    lfw = np.load(_skimage_data("lfw_subset.npy"))
    for size in (100, 200):
        embs, found = [], []
        for i, crop in enumerate(lfw):
            g = (transform.resize(crop, (size, size), order=3) * 255).clip(0, 255).astype(np.uint8)
            fs = an.faces(np.stack([g] * 3, -1))
            found.append(bool(fs))
            if i < 100 and fs:
                embs.append(fs[0].embedding)
        f = np.array(found)
        e = np.array(embs)
        d = face_distances(e, e)[np.triu_indices(len(e), 1)]
        da = face_distances(e, ref)[:, 0]
        print(f"LFW subset upscaled to {size}px: faces found {f[:100].sum()}/100, non-faces flagged "
              f"{f[100:].sum()}/100; {len(d)} face pairs: distance p1={np.percentile(d, 1):.3f} "
              f"p5={np.percentile(d, 5):.3f} median={np.median(d):.3f}, under 0.6: {(d <= 0.6).mean():.1%}, "
              f"under 0.5: {(d <= 0.5).mean():.1%}; to the astronaut: min {da.min():.3f}")

    frame = np.zeros((360, 640, 3), np.uint8) + 40
    frame[20:340, 160:480] = np.asarray(pil.crop((60, 30, 420, 390)).resize((320, 320)))
    for up in (0, 1):
        a = FaceAnalyzer(FaceOptions(upsample=up))
        a.faces(frame)
        t = time.perf_counter()
        n = 10
        for _ in range(n):
            a.faces(frame)
        dt = (time.perf_counter() - t) / n
        t = time.perf_counter()
        for _ in range(n):
            a.detector.detect(frame)
        dd = (time.perf_counter() - t) / n
        print(f"640x360 frame, one face, upsample={up}: {dt * 1000:.0f} ms/frame ({1 / dt:.1f} fps), "
              f"detection alone {dd * 1000:.0f} ms")


if __name__ == "__main__":
    main()
