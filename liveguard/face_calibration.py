"""`liveguard gallery calibrate-face`: same- and different-person distances of dlib face prints,
and the false accept / false reject rates per threshold, on the real faces that install offline.

Identities (who is who is known from where the photo comes from, never from the prints). A search
of every image file on the machine (site-packages of the venv and the system, /usr/share) with
the face detector finds exactly two real people:

- `Eileen Collins`: scikit-image `data/astronaut.png` (NASA portrait, 90 px face);
- `Grace Hopper`: matplotlib `mpl-data/sample_data/grace_hopper.jpg` (186 px face).

scikit-image's `lfw_subset.npy` adds 100 unnamed LFW face crops (25 x 25 grey): used only as
strangers to both (`--lfw`), since the subset does not say who they are.

Each identity is enrolled from its whole photo, as `gallery add` does. Probes are generated from
the same photo (`face_variants`): face scaled to 40-200 px, JPEG quality, brightness, a small
rotation and a horizontal squeeze (a slight turn), blur, each placed in a larger frame and found
with the detector at the size a scan would search for it. So the same-person distances measure
robustness to size and recording damage, not to another photo, day or age of the person (no
second photo of anyone is available offline). One probe frame against one print: a scan matches
an appearance by the mean print of its best frames, which is steadier than any single frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from liveguard.calibration_table import distribution, distribution_lines, sweep, sweep_lines

__all__ = ["Identity", "FaceProbe", "FaceCalibration", "identities", "face_variants", "calibrate_face",
           "format_face_calibration"]

SWEEP = tuple(round(0.40 + 0.02 * i, 2) for i in range(16))  # thresholds tabled: 0.40 .. 0.70
FACE_SIZES = (40, 48, 64, 80, 120, 200)  # probe face widths, pixels


@dataclass(frozen=True, eq=False)
class Identity:
    name: str
    source: str  # package and file the photo comes from
    image: np.ndarray  # RGB uint8


@dataclass(frozen=True)
class FaceProbe:
    identity: str
    variant: str  # e.g. "64px q30 b0.7 r-6 s0.9 blur1.0"
    found: bool
    distances: dict[str, float]  # enrolled identity -> distance (empty when no face was found)


def identities() -> list[Identity]:
    """The real people whose photos install with the project's packages (module doc)."""
    import matplotlib
    from skimage import data

    from vision.faces import load_image

    hopper = Path(matplotlib.__file__).parent / "mpl-data" / "sample_data" / "grace_hopper.jpg"
    return [Identity("Eileen Collins", "scikit-image data/astronaut.png", data.astronaut()),
            Identity("Grace Hopper", "matplotlib mpl-data/sample_data/grace_hopper.jpg", load_image(hopper))]


def _lfw_faces() -> list[np.ndarray]:
    import skimage

    crops = np.load(Path(skimage.__file__).parent / "data" / "lfw_subset.npy")[:100]
    return [np.stack([(c * 255).astype(np.uint8)] * 3, axis=-1) for c in crops]


def face_variants(image: np.ndarray, box: tuple[int, int, int, int], n: int, seed: int = 0):
    """`n` (name, frame) probes of the face in `image` at `box` (module doc), drawn with a fixed seed."""
    import cv2

    rng = np.random.default_rng(seed)
    for i in range(n):
        size = FACE_SIZES[i % len(FACE_SIZES)]
        quality = int(rng.choice([95, 60, 30]))
        bright = float(rng.choice([0.6, 0.8, 1.0, 1.25]))
        angle = float(rng.uniform(-12, 12))
        squeeze = float(rng.choice([1.0, 0.9, 0.8]))  # narrower: a face turned a little
        blur = float(rng.choice([0.0, 0.0, 1.0, 2.0]))
        scale = size / (box[2] - box[0])
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        m = cv2.getRotationMatrix2D((cx, cy), angle, scale)
        m[0] *= squeeze
        # the face lands in the middle of a frame 4 faces wide, with the photo around it
        side = 4 * size
        m[:, 2] = np.array([side / 2, side / 2]) - m[:, :2] @ np.array([cx, cy])
        frame = cv2.warpAffine(image, m, (side, side), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)
        if blur:
            frame = cv2.GaussianBlur(frame, (0, 0), blur * size / 80)
        frame = np.clip(frame.astype(np.float32) * bright, 0, 255).astype(np.uint8)
        ok, jpg = cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        frame = cv2.imdecode(jpg, cv2.IMREAD_COLOR)[:, :, ::-1]
        name = f"{size}px q{quality} b{bright:g} r{angle:+.0f} s{squeeze:g}" + (f" blur{blur:g}" if blur else "")
        yield name, np.ascontiguousarray(frame)


@dataclass(frozen=True)
class FaceCalibration:
    identities: list[tuple[str, str]]  # name, source
    probes: list[FaceProbe]
    strangers: int  # LFW crops with a face found (0 without --lfw)
    stranger_distances: np.ndarray  # LFW crops against every enrolled identity
    threshold: float

    @property
    def same(self) -> np.ndarray:
        return np.array([p.distances[p.identity] for p in self.probes if p.found])

    @property
    def different(self) -> np.ndarray:
        d = [v for p in self.probes if p.found for k, v in p.distances.items() if k != p.identity]
        return np.array(d + list(self.stranger_distances))

    def far(self, t: float) -> float:
        """False accepts: share of different-person pairs at or under `t`."""
        d = self.different
        return float(np.mean(d <= t)) if len(d) else float("nan")

    def frr(self, t: float) -> float:
        """False rejects: share of same-person probes (face found) over `t`."""
        s = self.same
        return float(np.mean(s > t)) if len(s) else float("nan")

    def to_json(self) -> dict:
        real_diff = np.array([v for p in self.probes if p.found for k, v in p.distances.items() if k != p.identity])
        return {"identities": [{"name": n, "source": s} for n, s in self.identities],
                "probes": len(self.probes), "probes_without_face": sum(not p.found for p in self.probes),
                "same_person": distribution(self.same), "different_real_people": distribution(real_diff),
                "lfw_strangers": {"crops_with_face": self.strangers, **distribution(self.stranger_distances)},
                "threshold": self.threshold, "far": round(self.far(self.threshold), 4),
                "frr": round(self.frr(self.threshold), 4),
                "sweep": sweep(SWEEP, self.far, self.frr),
                "closest_different": sorted(([p.identity, p.variant, k, round(v, 4)] for p in self.probes if p.found
                                             for k, v in p.distances.items() if k != p.identity),
                                            key=lambda r: r[3])[:5],
                "worst_same": sorted(([p.identity, p.variant, round(p.distances[p.identity], 4)]
                                      for p in self.probes if p.found), key=lambda r: -r[2])[:5]}


def _probe_print(analyzer, frame: np.ndarray, size: int) -> np.ndarray | None:
    """The print of the largest face found where a scan would look for a face of `size` px."""
    found = analyzer.detector.detect_scaled(frame, max(20, int(0.8 * size)))
    if not found:
        return None
    box = max(found, key=lambda f: (f[0][2] - f[0][0]) * f[0][3])[0]
    return analyzer.embedder.embed(frame, [box])[0]


def calibrate_face(people: list[Identity] | None = None, variants: int = 60, lfw: bool = False,
                   threshold: float | None = None, analyzer=None) -> FaceCalibration:
    from vision.faces import MATCH_DISTANCE, FaceAnalyzer, face_distances

    people = people if people is not None else identities()
    analyzer = analyzer or FaceAnalyzer()
    enrolled, boxes = {}, {}
    for person in people:
        found = analyzer.detector.detect(person.image)
        if len(found) != 1:
            raise ValueError(f"{person.name}: expected one face in the photo, found {len(found)}")
        boxes[person.name] = found[0][0]
        enrolled[person.name] = analyzer.embedder.embed(person.image, [found[0][0]])[0]
    names = list(enrolled)
    prints = np.stack([enrolled[n] for n in names])
    probes = []
    for k, person in enumerate(people):
        for name, frame in face_variants(person.image, boxes[person.name], variants, seed=k):
            emb = _probe_print(analyzer, frame, int(name.split("px")[0]))
            dist = {} if emb is None else dict(zip(names, map(float, face_distances(emb, prints)[0])))
            probes.append(FaceProbe(person.name, name, emb is not None, dist))
    strangers = []
    if lfw:
        import cv2

        for crop in _lfw_faces():
            big = cv2.resize(crop, (100, 100), interpolation=cv2.INTER_CUBIC)
            found = analyzer.detector.detect(big)
            if found:
                strangers.append(analyzer.embedder.embed(big, [found[0][0]])[0])
    stranger_d = face_distances(np.array(strangers), prints).ravel() if strangers else np.zeros(0)
    return FaceCalibration([(p.name, p.source) for p in people], probes, len(strangers), stranger_d,
                           threshold if threshold is not None else MATCH_DISTANCE)


def format_face_calibration(r: FaceCalibration) -> str:
    j = r.to_json()
    lines = [f"{len(j['identities'])} real identities: " + "; ".join(f"{i['name']} ({i['source']})"
                                                                    for i in j["identities"]),
             f"{j['probes']} generated probes (face 40-200 px, JPEG, brightness, rotation, squeeze, blur), "
             f"{j['probes_without_face']} with no face found; enrolment = each whole photo", ""]
    lines += distribution_lines([("same person", j["same_person"]), ("different real people", j["different_real_people"]),
                                 ("LFW strangers", j["lfw_strangers"])], 22)
    lines += ["", *sweep_lines(j["sweep"], r.threshold)]
    lines += ["", f"in use: {r.threshold} (FAR {j['far']:.2%}, FRR {j['frr']:.2%}). FAR counts pairs of "
              f"{len(j['identities'])} real people (and LFW crops, if asked): far too few identities to bound the "
              "false-match rate over a platform's streamers; see docs/vision.md"]
    return "\n".join(lines)
