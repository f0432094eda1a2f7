"""Vision: sampled frames -> faces, face prints, face tracks; speech -> voice prints; the gallery.

`faces` (dlib HOG detector + ResNet 128-d descriptors), `tracking` (one appearance = one track),
`gallery` (protected people and the accounts they authorised, one JSON file), `ocr` (RapidOCR
PP-OCRv4 on sampled frames), `ai_label` (is an AI-disclosure label on screen, and does it stay).
`voiceprint` (256-d speaker prints from resemblyzer's GE2E encoder; it takes speech, finding
speech is the caller's). Identity is treated here beside faces because the gallery holds both.
Turning these into findings is `pipeline.impersonation` (faces) and `pipeline.voices` (voices).
`clip_features`, `synthetic_image`, `synthetic_voice`: synthetic-media detectors to train on your
data (a CLIP probe, an LCNN); none ships trained (docs/vision.md).
"""

from vision.ai_label import AiLabelReport, LabelOptions, check_ai_label, find_ai_label
from vision.errors import (FaceCountError, GalleryError, ImageReadError, MultipleFacesError, NoFaceError, VisionError,
                           VoiceSampleError)
from vision.faces import (EMBEDDING_DIM, FACE_MODEL_ID, MATCH_DISTANCE, Face, FaceAnalyzer, FaceDetector,
                          FaceEmbedder, FaceOptions, face_distances, load_image)
from vision.gallery import DEFAULT_GALLERY, Gallery, GalleryEntry, enrol_face, normalise_account
from vision.ocr import OCR_MODEL_ID, OcrOptions, ScreenReader, ScreenText
from vision.tracking import FaceTracker, Track, TrackOptions, track_faces
from vision.voiceprint import MATCH_SIMILARITY, VOICE_DIM, VOICE_MODEL_ID, VoiceEncoder, cosine_similarities

__all__ = ["EMBEDDING_DIM", "FACE_MODEL_ID", "MATCH_DISTANCE", "DEFAULT_GALLERY",
           "Face", "FaceAnalyzer", "FaceDetector", "FaceEmbedder", "FaceOptions", "face_distances", "load_image",
           "Gallery", "GalleryEntry", "enrol_face", "normalise_account",
           "FaceTracker", "Track", "TrackOptions", "track_faces",
           "OCR_MODEL_ID", "OcrOptions", "ScreenReader", "ScreenText",
           "AiLabelReport", "LabelOptions", "check_ai_label", "find_ai_label",
           "VOICE_DIM", "VOICE_MODEL_ID", "MATCH_SIMILARITY", "VoiceEncoder", "cosine_similarities",
           "VisionError", "ImageReadError", "FaceCountError", "NoFaceError", "MultipleFacesError", "GalleryError",
           "VoiceSampleError"]
