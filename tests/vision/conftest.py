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


# --- rooms at real resolutions (issue #14): real faces at a given size on a 720p/1080p set ------------

def grace_hopper() -> np.ndarray:
    """A second real person (matplotlib's sample photo): 0.66-0.72 from the astronaut, the thinnest
    margin between real people we have offline."""
    import matplotlib

    from vision.faces import load_image

    return load_image(Path(os.path.dirname(matplotlib.__file__)) / "mpl-data" / "sample_data" / "grace_hopper.jpg")


def face_at(image: np.ndarray, face_px: int, analyzer) -> np.ndarray:
    """`image` scaled so that its one face's detector box is `face_px` wide."""
    import cv2

    (box, _), = analyzer.detector.detect(image)
    scale = face_px / (box[2] - box[0])
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def room_video(out: Path, size: tuple[int, int], faces: list[tuple[np.ndarray, str, str, str]],
               duration: float, fps: int = 5) -> Path:
    """An H.264/AAC recording of `size` (w, h): a textured set (scikit-image's coffee photo) with each
    (image, x, y, filter) of `faces` overlaid at ffmpeg expressions x, y (t = seconds) after the
    ffmpeg filter (e.g. a timed blur, or "null"), and a tone."""
    import cv2
    from skimage import data

    w, h = size
    bg = save_png(cv2.resize(data.coffee(), (w, h), interpolation=cv2.INTER_AREA), out.with_suffix(".bg.png"))
    inputs = ["-loop", "1", "-framerate", str(fps), "-t", f"{duration}", "-i", str(bg)]
    chain, last = [], "0:v"
    for i, (image, x, y, vf) in enumerate(faces, start=1):
        png = save_png(image, out.with_suffix(f".face{i}.png"))
        inputs += ["-loop", "1", "-framerate", str(fps), "-t", f"{duration}", "-i", str(png)]
        chain.append(f"[{i}:v]{vf}[f{i}];[{last}][f{i}]overlay=x='{x}':y='{y}':shortest=1[v{i}]")
        last = f"v{i}"
    inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={duration}"]
    ffmpeg([*inputs, "-filter_complex", ";".join(chain) + f";[{last}]format=yuv420p[out]", "-map", "[out]",
            "-map", f"{len(faces) + 1}:a", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", str(2 * fps),
            "-c:a", "aac", "-b:a", "32k", "-t", f"{duration}", str(out)])
    return out


@pytest.fixture(scope="session")
def protected_gallery(analyzer, media_dir):
    """The astronaut, protected, enrolled from her full photo; Grace Hopper is not in it."""
    from vision.gallery import Gallery, enrol_face

    g = Gallery(media_dir / "protected.json")
    g.add("Eileen Collins", face_prints=enrol_face(analyzer, astronaut()), authorised_accounts=["nasa_official"])
    g.save()
    return Gallery.open(g.path)
