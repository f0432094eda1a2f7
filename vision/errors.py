"""Errors the vision stage raises, under LiveGuard's one base.

    LiveGuardError
    ├── ModelError                 (liveguard.errors) face weights missing or unreadable
    └── VisionError                an image or a gallery could not be used
        ├── ImageReadError         not an image, unreadable, wrong shape
        ├── FaceCountError         an enrolment photo must show exactly one face
        │   ├── NoFaceError        no face found
        │   └── MultipleFacesError several faces found
        ├── VoiceSampleError       an enrolment recording holds too little speech for a voice print
        └── GalleryError           gallery file unreadable, unknown or duplicate entry

dlib raises plain RuntimeError (bad image type, corrupt .dat); it is wrapped where it enters.
"""

from __future__ import annotations

from liveguard.errors import LiveGuardError

__all__ = ["VisionError", "ImageReadError", "FaceCountError", "NoFaceError", "MultipleFacesError", "GalleryError",
           "VoiceSampleError"]


class VisionError(LiveGuardError):
    """An image, a frame or a gallery could not be used."""


class ImageReadError(VisionError):
    """The input is not a readable RGB image."""


class FaceCountError(VisionError):
    """An enrolment photo must show exactly one face."""


class NoFaceError(FaceCountError):
    """No face was found where one was required."""


class MultipleFacesError(FaceCountError):
    """Several faces were found where exactly one was required."""


class GalleryError(VisionError):
    """The gallery file is unreadable, or an entry is unknown or duplicated."""


class VoiceSampleError(VisionError):
    """An enrolment recording is unreadable or holds too little speech for a voice print."""
