"""The gallery of protected people: names, face prints, voice prints, authorised accounts.

Stored as one JSON file (human-readable, diffable, a few KB per person). Writes go to a
temporary file that is then renamed over the old one, so a monitor reading the gallery while
`liveguard gallery add` runs sees either the old or the new gallery, never half of one.

    {"format": 1, "face_model": "dlib-resnet-v1@0.3.0", "voice_model": null,
     "entries": [{"name": ..., "kind": "protected", "face_prints": [[128 floats], ...],
                  "voice_prints": [[...], ...], "authorised_accounts": [...], "sources": [...],
                  "added_at": ISO time}]}

Prints from another model are not comparable, so a gallery made with a different face or voice
model is refused on load instead of silently matching nothing (or everything).

`kind` is "protected" (a person who may not be shown or heard without consent; their
`authorised_accounts` may) or "blacklisted" (a banned streamer; `authorised_accounts` holds their
own known accounts, and a match anywhere else is ban evasion).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from vision.errors import GalleryError, MultipleFacesError, NoFaceError
from vision.faces import EMBEDDING_DIM, FACE_MODEL_ID, FaceAnalyzer, as_rgb, load_image
from vision.voiceprint import VOICE_DIM, VOICE_MODEL_ID

__all__ = ["GALLERY_FORMAT", "DEFAULT_GALLERY", "KINDS", "GalleryEntry", "Gallery", "enrol_face", "normalise_account",
           "describe_match"]

GALLERY_FORMAT = 1
DEFAULT_GALLERY = "liveguard-gallery.json"
KINDS = ("protected", "blacklisted")  # protected: may not be shown without consent; blacklisted: banned streamer


def describe_match(modality: str, entry: GalleryEntry, account: str | None) -> str:
    """Evidence wording for a face or voice that matched `entry` on `account`: who, and why it
    is not allowed there."""
    where = f"account {account!r}" if account else "an unknown account"
    if entry.kind == "blacklisted":
        known = ", ".join(entry.authorised_accounts) or "none recorded"
        return f"{modality} matches blacklisted streamer {entry.name!r} (known accounts: {known}) on {where}"
    return f"{modality} matches gallery entry {entry.name!r} ({entry.kind}, not authorised for {where})"


def normalise_account(account: str) -> str:
    """Account ids compare case-insensitively and without surrounding blanks."""
    return account.strip().casefold()


@dataclass(frozen=True, eq=False)
class GalleryEntry:
    name: str
    face_prints: np.ndarray  # (n, 128) float32; several photos per person are allowed
    voice_prints: np.ndarray = field(default_factory=lambda: np.zeros((0, VOICE_DIM), np.float32))
    authorised_accounts: tuple[str, ...] = ()
    kind: str = "protected"
    sources: tuple[str, ...] = ()  # file names the prints came from, for the reviewer
    added_at: str = ""

    def authorises(self, account: str | None) -> bool:
        return account is not None and normalise_account(account) in {
            normalise_account(a) for a in self.authorised_accounts}

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind,
                "face_prints": [[round(float(x), 6) for x in p] for p in self.face_prints],
                "voice_prints": [[round(float(x), 6) for x in p] for p in self.voice_prints],
                "authorised_accounts": list(self.authorised_accounts), "sources": list(self.sources),
                "added_at": self.added_at}

    @classmethod
    def from_json(cls, d: dict) -> GalleryEntry:
        faces = np.asarray(d.get("face_prints") or np.zeros((0, EMBEDDING_DIM)), np.float32)
        if faces.ndim != 2 or (len(faces) and faces.shape[1] != EMBEDDING_DIM):
            raise GalleryError(f"entry {d.get('name')!r}: face prints must be {EMBEDDING_DIM}-d")
        voices = np.asarray(d.get("voice_prints") or np.zeros((0, VOICE_DIM)), np.float32)
        if voices.ndim != 2 or (len(voices) and voices.shape[1] != VOICE_DIM):
            raise GalleryError(f"entry {d.get('name')!r}: voice prints must be {VOICE_DIM}-d")
        return cls(name=str(d["name"]), face_prints=faces, voice_prints=voices,
                   authorised_accounts=tuple(d.get("authorised_accounts", ())), kind=d.get("kind", "protected"),
                   sources=tuple(d.get("sources", ())), added_at=d.get("added_at", ""))


def enrol_face(analyzer: FaceAnalyzer, image: np.ndarray | str | Path) -> np.ndarray:
    """The face print of the one face in an enrolment photo; NoFaceError / MultipleFacesError otherwise."""
    label = str(image) if isinstance(image, (str, Path)) else "image"
    img = load_image(image) if isinstance(image, (str, Path)) else as_rgb(image)
    faces = analyzer.faces(img)
    if not faces:
        raise NoFaceError(f"{label}: no face found (need one frontal face, at least "
                          f"{analyzer.opts.min_size} px wide)")
    if len(faces) > 1:
        boxes = ", ".join(str(f.box) for f in faces)
        raise MultipleFacesError(f"{label}: {len(faces)} faces found ({boxes}); crop the photo to one person")
    return faces[0].embedding


class Gallery:
    """An in-memory gallery bound to a JSON file; `save()` writes it back atomically."""

    def __init__(self, path: str | Path | None = None, entries: list[GalleryEntry] | None = None,
                 voice_model: str | None = None):
        self.path = Path(path) if path is not None else None
        self.entries: list[GalleryEntry] = list(entries or [])
        self.voice_model = voice_model

    @classmethod
    def open(cls, path: str | Path) -> Gallery:
        """Load the gallery at `path`; a missing file is an empty gallery (created on save)."""
        p = Path(path)
        if not p.exists():
            return cls(p)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            if data.get("format") != GALLERY_FORMAT:
                raise GalleryError(f"{p}: gallery format {data.get('format')!r}, expected {GALLERY_FORMAT}")
            if data.get("face_model") not in (None, FACE_MODEL_ID):
                raise GalleryError(f"{p}: face prints were made with {data['face_model']}, this build uses "
                                   f"{FACE_MODEL_ID}; re-enrol the photos")
            if data.get("voice_model") not in (None, VOICE_MODEL_ID):
                raise GalleryError(f"{p}: voice prints were made with {data['voice_model']}, this build uses "
                                   f"{VOICE_MODEL_ID}; re-enrol the voices")
            entries = [GalleryEntry.from_json(d) for d in data.get("entries", [])]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise GalleryError(f"{p}: not a readable gallery ({exc})") from exc
        return cls(p, entries, data.get("voice_model"))

    def save(self) -> None:
        if self.path is None:
            raise GalleryError("this gallery has no file to save to")
        data = {"format": GALLERY_FORMAT, "face_model": FACE_MODEL_ID, "voice_model": self.voice_model,
                "entries": [e.to_json() for e in self.entries]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".gallery-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False, indent=1)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def get(self, name: str) -> GalleryEntry:
        for e in self.entries:
            if e.name == name:
                return e
        raise GalleryError(f"no gallery entry named {name!r}; entries: {', '.join(self.names()) or '(none)'}")

    def names(self) -> list[str]:
        return [e.name for e in self.entries]

    def add(self, name: str, face_prints: np.ndarray | None = None, voice_prints: np.ndarray | None = None,
            authorised_accounts: tuple[str, ...] | list[str] = (), kind: str = "protected",
            sources: tuple[str, ...] | list[str] = (), voice_model: str = VOICE_MODEL_ID) -> GalleryEntry:
        """Add a person, or add prints / accounts to an existing one of the same name and kind.
        `voice_model`: the model that made `voice_prints`; another model than this build's is refused."""
        name = name.strip()
        if not name:
            raise GalleryError("a gallery entry needs a name")
        if kind not in KINDS:
            raise GalleryError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        faces = np.asarray(face_prints if face_prints is not None else np.zeros((0, EMBEDDING_DIM)),
                           np.float32).reshape(-1, EMBEDDING_DIM)
        voices = np.asarray(voice_prints, np.float32) if voice_prints is not None else None
        if voices is not None:
            voices = voices.reshape(1, -1) if voices.ndim == 1 else voices
            if voice_model != VOICE_MODEL_ID or (self.voice_model not in (None, VOICE_MODEL_ID)):
                raise GalleryError(f"voice prints made with {voice_model} cannot join a gallery of "
                                   f"{self.voice_model or VOICE_MODEL_ID} prints")
            if voices.shape[1] != VOICE_DIM:
                raise GalleryError(f"{name!r}: voice prints must be {VOICE_DIM}-d, got {voices.shape[1]}")
            if len(voices):
                self.voice_model = VOICE_MODEL_ID
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for i, old in enumerate(self.entries):
            if old.name != name:
                continue
            if old.kind != kind:
                raise GalleryError(f"{name!r} is already in the gallery as {old.kind}, not {kind}")
            if voices is not None and len(old.voice_prints) and old.voice_prints.shape[1] != voices.shape[1]:
                raise GalleryError(f"{name!r}: voice prints of {voices.shape[1]} dims do not match the stored "
                                   f"{old.voice_prints.shape[1]}")
            accounts = tuple(dict.fromkeys(old.authorised_accounts + tuple(authorised_accounts)))
            new = replace(old, face_prints=np.concatenate([old.face_prints, faces]),
                          voice_prints=(voices if not len(old.voice_prints) else
                                        np.concatenate([old.voice_prints, voices])) if voices is not None
                          else old.voice_prints,
                          authorised_accounts=accounts, sources=old.sources + tuple(sources))
            self.entries[i] = new
            return new
        if not len(faces) and (voices is None or not len(voices)):
            raise GalleryError(f"{name!r}: a new entry needs at least one face or voice print")
        entry = GalleryEntry(name=name, face_prints=faces,
                             voice_prints=voices if voices is not None else np.zeros((0, VOICE_DIM), np.float32),
                             authorised_accounts=tuple(dict.fromkeys(authorised_accounts)), kind=kind,
                             sources=tuple(sources), added_at=now)
        self.entries.append(entry)
        return entry

    def remove(self, name: str) -> GalleryEntry:
        entry = self.get(name)
        self.entries.remove(entry)
        return entry

    def face_matrix(self, kind: str | None = None) -> tuple[np.ndarray, list[GalleryEntry]]:
        """All face prints stacked (n, 128) and, per row, the entry it belongs to."""
        return self._prints("face_prints", EMBEDDING_DIM, kind)

    def voice_matrix(self, kind: str | None = None) -> tuple[np.ndarray, list[GalleryEntry]]:
        """All voice prints stacked (n, 256) and, per row, the entry it belongs to."""
        return self._prints("voice_prints", VOICE_DIM, kind)

    def _prints(self, field: str, dim: int, kind: str | None) -> tuple[np.ndarray, list[GalleryEntry]]:
        rows, owners = [], []
        for e in self.entries:
            if kind is None or e.kind == kind:
                prints = getattr(e, field)
                rows += list(prints)
                owners += [e] * len(prints)
        return (np.array(rows, np.float32) if rows else np.zeros((0, dim), np.float32)), owners
