"""`liveguard bench asr`: LiveGuard's batched ASR path against a loop over openai-whisper's
`transcribe()`, same model, same audio, one run, with WER (English) and CER (Chinese).

The audio is real speech that installs offline: LibriVox and "cards" clips from Debian's
pocketsphinx-testdata, and the Mandarin and English example clips of the f5-tts wheel
(extracted into .cache/testdata by scripts/setup.sh).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.decode import SAMPLE_RATE, AudioBlock
from ingest.windows import Window, WindowOptions, cut_windows

__all__ = ["Clip", "reference_clips", "load_audio", "run_bench", "format_bench"]

POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
TESTDATA = Path(__file__).resolve().parent.parent / ".cache" / "testdata"
F5_TEXTS = {
    "basic_ref_zh.wav": ("zh", "对，这就是我，万人敬仰的太乙真人。"),
    "basic_ref_en.wav": ("en", "Some call me nature, others call me mother nature."),
}


@dataclass(frozen=True)
class Clip:
    name: str
    audio: np.ndarray  # float32 mono 16 kHz
    lang: str
    reference: str

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def load_audio(path: str | Path) -> np.ndarray:
    """Whole file as 16 kHz mono float32, through the same PyAV decoder the scanner uses."""
    from ingest.decode import decode_media

    blocks = [b.samples for b in decode_media(path, frame_fps=0) if isinstance(b, AudioBlock)]
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def _sphinx_set(folder: Path, transcription: str) -> list[Clip]:
    clips = []
    if not (folder / transcription).exists():
        return clips
    for line in (folder / transcription).read_text().splitlines():
        m = re.match(r"<s>(.*)</s>\s*\((.+)\)", line.strip())
        if m and (folder / f"{m.group(2)}.wav").exists():
            clips.append(Clip(m.group(2), load_audio(folder / f"{m.group(2)}.wav"), "en", m.group(1).strip()))
    return clips


def reference_clips(testdata: Path = TESTDATA) -> list[Clip]:
    clips = _sphinx_set(POCKETSPHINX / "librivox", "transcription")
    clips += _sphinx_set(POCKETSPHINX / "cards", "cards.transcription")
    for name, (lang, text) in F5_TEXTS.items():
        if (testdata / name).exists():
            clips.append(Clip(name, load_audio(testdata / name), lang, text))
    return clips


def _clip_window(clip: Clip) -> Window:
    return next(cut_windows([AudioBlock(0.0, clip.audio)], clip.name, WindowOptions()))


def _score(clips: list[Clip], hyps: list[str]) -> tuple[float, float]:
    from asr.metrics import cer, wer

    en = [(c.reference, h) for c, h in zip(clips, hyps) if c.lang == "en"]
    zh = [(c.reference, h) for c, h in zip(clips, hyps) if c.lang == "zh"]
    w = wer(*map(list, zip(*en))) if en else float("nan")
    c = cer(*map(list, zip(*zh))) if zh else float("nan")
    return w, c


def run_bench(model_name: str = "whisper-base", device: str | None = None, batch_size: int = 8,
              repeat: int = 1) -> dict:
    import torch

    from asr.transcriber import AsrOptions, Transcriber
    from asr.whisper_model import load_whisper

    clips = reference_clips()
    if not clips:
        raise SystemExit("no reference speech found: run scripts/setup.sh (needs pocketsphinx-testdata)")
    clips = clips * repeat
    loaded = load_whisper(model_name, device)
    model = loaded.model
    fp16 = loaded.device == "cuda"
    audio_s = sum(c.seconds for c in clips)

    # Warm both paths on one clip so one-off costs (mel filters, kernels, VAD load) are not timed.
    model.transcribe(clips[0].audio, fp16=fp16, condition_on_previous_text=False)
    transcriber = Transcriber(loaded, AsrOptions(batch_size=batch_size))
    list(transcriber.transcribe([_clip_window(clips[0])]))

    t = time.perf_counter()
    loop_hyps = [model.transcribe(c.audio, fp16=fp16, condition_on_previous_text=False)["text"] for c in clips]
    loop_s = time.perf_counter() - t

    t = time.perf_counter()
    results = list(transcriber.transcribe(_clip_window(c) for c in clips))
    batch_s = time.perf_counter() - t
    batch_hyps = [" ".join(s.text for s in r.segments) for r in results]

    rows = []
    for name, wall, hyps in (("openai-whisper transcribe() loop", loop_s, loop_hyps),
                             (f"liveguard batched (B={batch_size}, VAD)", batch_s, batch_hyps)):
        w, c = _score(clips, hyps)
        rows.append({"path": name, "wall_s": wall, "audio_s_per_s": audio_s / wall, "wer": w, "cer": c})
    return {"model": loaded.model_id, "device": loaded.device, "threads": torch.get_num_threads(),
            "clips": len(clips), "audio_s": audio_s, "rows": rows,
            "speedup": loop_s / batch_s, "hyps": list(zip([c.name for c in clips], loop_hyps, batch_hyps))}


def format_bench(res: dict) -> str:
    lines = [f"model {res['model']} on {res['device']} ({res['threads']} threads), "
             f"{res['clips']} clips, {res['audio_s']:.1f} s of real speech",
             f"{'path':40s} {'wall s':>8s} {'audio-s/s':>10s} {'WER en':>8s} {'CER zh':>8s}"]
    for r in res["rows"]:
        lines.append(f"{r['path']:40s} {r['wall_s']:8.2f} {r['audio_s_per_s']:10.2f} "
                     f"{r['wer'] * 100:7.1f}% {r['cer'] * 100:7.1f}%")
    lines.append(f"batched / loop throughput: {res['speedup']:.2f}x")
    return "\n".join(lines)
