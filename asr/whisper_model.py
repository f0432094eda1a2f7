"""Loading a Whisper model by registry name, openai-whisper name or local checkpoint path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from liveguard.errors import ModelError
from models import REGISTRY, get_spec, prepare, prepare_ct2, sha256_file

__all__ = ["LoadedWhisper", "load_whisper", "default_device"]

# Names openai-whisper can fetch itself: only usable where its download host is reachable.
OPENAI_NAMES = {"tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "medium.en",
                "large", "large-v1", "large-v2", "large-v3", "large-v3-turbo", "turbo"}


@dataclass
class LoadedWhisper:
    """openai-whisper in PyTorch: any checkpoint, CPU or GPU."""

    model: torch.nn.Module  # whisper.model.Whisper
    model_id: str  # recorded with every transcript: name@version or file@sha256-prefix
    device: str

    def decode(self, chunks, opts):
        from asr.batch_decode import decode_chunks

        return decode_chunks(self.model, chunks, opts)


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


ENGINES = ("auto", "torch", "ct2")


def load_whisper(name: str = "whisper-base", device: str | None = None, engine: str = "torch"):
    """`name`: a registry name (default, offline), a path to a .pt checkpoint, or an openai-whisper name.

    `engine`: "torch" (openai-whisper), "ct2" (CTranslate2 int8 on CPU / fp16 on GPU; registry
    models only), or "auto" (ct2 for registry models when CTranslate2 is installed, else torch).
    Both return an object with `.decode(chunks, opts)`, `.model_id` and `.device`.
    """
    import whisper

    if engine not in ENGINES:
        raise ModelError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    device = device or default_device()
    if engine in ("auto", "ct2") and name in REGISTRY:
        try:
            from asr.ct2_engine import CT2Whisper
        except ImportError as exc:
            if engine == "ct2":
                raise ModelError(f"engine ct2 needs the ctranslate2 package: {exc}") from exc
        else:
            return CT2Whisper(prepare_ct2(name), get_spec(name).model_id, device=device,
                              compute_type="int8" if device == "cpu" else "float16")
    elif engine == "ct2":
        raise ModelError(f"engine ct2 runs registry models only ({', '.join(sorted(REGISTRY))}), not {name!r}")
    path = Path(name)
    try:
        if name in REGISTRY:
            spec = get_spec(name)
            model = whisper.load_model(str(prepare(name)), device=device)
            model_id = spec.model_id
        elif path.suffix == ".pt" or path.exists():
            if not path.is_file():
                raise ModelError(f"Whisper checkpoint {name} not found")
            model = whisper.load_model(str(path), device=device)
            model_id = f"{path.stem}@sha256:{sha256_file(path)[:12]}"
        elif name in OPENAI_NAMES:
            model = whisper.load_model(name, device=device)  # downloads: needs internet
            model_id = f"openai-whisper-{name}"
        else:
            raise ModelError(f"unknown Whisper model {name!r}: use one of {sorted(REGISTRY)}, "
                             f"a .pt checkpoint path, or an openai-whisper name ({', '.join(sorted(OPENAI_NAMES))})")
    except (RuntimeError, OSError, KeyError) as exc:
        raise ModelError(f"cannot load Whisper model {name!r}: {exc}") from exc
    model.eval()
    return LoadedWhisper(model, model_id, device)
