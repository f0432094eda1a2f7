"""Real faces for the vision tests, and recordings built from them with ffmpeg.

scikit-image ships two sources of real faces: `astronaut.png` (Eileen Collins, 512 x 512 colour,
face ~87 px) and `lfw_subset.npy` (100 LFW face crops + 100 non-faces, 25 x 25 grey). The LFW
crops are upscaled to be found by the HOG detector; index 0 is ~0.90 from the astronaut, far
past the 0.6 threshold, so it is a safe "another person".
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

OTHER_FACES = (0, 49)  # LFW subset indices found by HOG at 200 px, both >= 0.89 from the astronaut


def _skimage_data(name: str) -> Path:
    import skimage

    return Path(os.path.dirname(skimage.__file__)) / "data" / name


def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def lfw_face(index: int, size: int = 200) -> np.ndarray:
    from skimage import transform

    crop = np.load(_skimage_data("lfw_subset.npy"))[index]
    grey = (transform.resize(crop, (size, size), order=3) * 255).clip(0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.stack([grey] * 3, axis=-1))


def save_png(image: np.ndarray, path: Path) -> Path:
    from PIL import Image

    Image.fromarray(image).save(path)
    return path


def ffmpeg(args: list[str]) -> None:
    proc = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {proc.stderr[-2000:]}")


def still_video(image: Path, out: Path, vf: str, duration: float = 5.0) -> Path:
    """A 640 x 360 H.264/AAC recording of `image` under the filter `vf` (t = seconds), with a tone."""
    ffmpeg(["-loop", "1", "-framerate", "5", "-t", f"{duration}", "-i", str(image),
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={duration}",
            "-vf", vf + ",format=yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-crf", "28",
            "-c:a", "aac", "-b:a", "32k", "-shortest", str(out)])
    return out


@pytest.fixture(scope="session")
def analyzer():
    from vision.faces import FaceAnalyzer

    return FaceAnalyzer()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("vision_media")


@pytest.fixture(scope="session")
def astronaut_png(media_dir) -> Path:
    return save_png(astronaut(), media_dir / "astronaut.png")


@pytest.fixture(scope="session")
def impostor_video(media_dir, astronaut_png) -> Path:
    """The astronaut, panned across a 300 px crop of the photo, rescaled and placed on a dark set."""
    vf = ("crop=300:300:x='60+16*t':y='30+6*t',scale=320:320,"
          "pad=640:360:x='(ow-iw)/2':y=20:color=0x202830")
    return still_video(astronaut_png, media_dir / "impostor.mp4", vf)


@pytest.fixture(scope="session")
def other_face_video(media_dir) -> Path:
    png = save_png(lfw_face(OTHER_FACES[0], 240), media_dir / "other.png")
    return still_video(png, media_dir / "other.mp4", "pad=760:360:x=260:y=60:color=0x202830,crop=640:360:x='100-20*t':y=0")


@pytest.fixture
def gallery_path(tmp_path) -> Path:
    return tmp_path / "gallery.json"
