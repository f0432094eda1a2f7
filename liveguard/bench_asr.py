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


def join_by_language(clips: list[Clip], gap_s: float = 0.5) -> list[Clip]:
    """One long recording per language: the input faster-whisper's batched pipeline is built for
    (it batches the VAD chunks of one file, and detects the language once per file)."""
    gap = np.zeros(int(gap_s * SAMPLE_RATE), np.float32)
    out = []
    for lang in sorted({c.lang for c in clips}):
        same = [c for c in clips if c.lang == lang]
        audio = np.concatenate([a for c in same for a in (c.audio, gap)])
        sep = "" if lang == "zh" else " "
        out.append(Clip(f"joined-{lang}", audio, lang, sep.join(c.reference for c in same)))
    return out


def pack_clips(clips: list[Clip], n_windows: int, max_s: float = 28.0, gap_s: float = 0.3) -> list[Clip]:
    """English clips packed back to back into `n_windows` windows of up to `max_s` seconds of speech,
    the way a busy live room fills its windows (clips are reused in turn)."""
    en = [c for c in clips if c.lang == "en"]
    gap = np.zeros(int(gap_s * SAMPLE_RATE), np.float32)
    out, k = [], 0
    for w in range(n_windows):
        audio, refs = [], []
        while True:
            c = en[k % len(en)]
            if sum(len(a) for a in audio) + len(c.audio) + len(gap) > max_s * SAMPLE_RATE and audio:
                break
            audio += [c.audio, gap]
            refs.append(c.reference)
            k += 1
        out.append(Clip(f"packed{w:03d}", np.concatenate(audio), "en", " ".join(refs)))
    return out


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _paths(model_name: str, device: str, batch_size: int):
    """(name, setup) pairs; setup() loads what the path needs and returns hyps_for(clips)."""
    import torch
    import whisper

    from asr.transcriber import AsrOptions, Transcriber
    from asr.whisper_model import load_whisper

    def openai_loop():
        loaded = load_whisper(model_name, device, engine="torch")
        fp16 = loaded.device == "cuda"
        return lambda clips: [loaded.model.transcribe(c.audio, fp16=fp16, condition_on_previous_text=False,
                                                      temperature=0.0)["text"] for c in clips]

    def openai_decode_batched():
        loaded = load_whisper(model_name, device, engine="torch")
        opts = whisper.DecodingOptions(fp16=loaded.device == "cuda", without_timestamps=True)

        def run(clips):
            hyps = []
            for i in range(0, len(clips), batch_size):
                mel = torch.stack([whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(c.audio)))
                                   for c in clips[i:i + batch_size]]).to(loaded.model.device)
                hyps += [r.text for r in whisper.decode(loaded.model, mel.half() if opts.fp16 else mel, opts)]
            return hyps
        return run

    def faster_whisper_batched():
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        from models import prepare_ct2

        fw = WhisperModel(str(prepare_ct2(model_name)), device=device,
                          compute_type="int8" if device == "cpu" else "float16")
        pipe = BatchedInferencePipeline(fw)
        # Greedy like every other row (its default beam 5 is slower: 13.6 vs 19.9 audio-s/s here).
        return lambda clips: [" ".join(s.text for s in pipe.transcribe(c.audio, batch_size=batch_size,
                                                                       beam_size=1)[0])
                              for c in clips]

    def transformers_pipeline():
        from transformers import pipeline

        from models.whisper_hf import load_hf

        fp16 = device == "cuda"
        model, proc = load_hf(model_name, device, torch.float16 if fp16 else torch.float32)
        pipe = pipeline("automatic-speech-recognition", model=model, tokenizer=proc.tokenizer,
                        feature_extractor=proc.feature_extractor, device=model.device,
                        batch_size=batch_size)
        # Greedy, no timestamps, language detected per item by generate(), like the other rows.
        kwargs = {"task": "transcribe", "num_beams": 1, "do_sample": False}
        return lambda clips: [r["text"].strip() for r in
                              pipe([c.audio for c in clips], generate_kwargs=kwargs)]

    def liveguard(engine):
        def setup():
            t = Transcriber(load_whisper(model_name, device, engine=engine), AsrOptions(batch_size=batch_size))
            return lambda clips: [" ".join(s.text for s in r.segments)
                                  for r in t.transcribe(_clip_window(c) for c in clips)]
        return setup

    # (name, setup, joined): a joined path gets the items as one recording per language
    return [("openai-whisper transcribe() loop", openai_loop, False),
            (f"openai-whisper decode() batched B={batch_size}", openai_decode_batched, False),
            (f"faster-whisper batched B={batch_size}, per item", faster_whisper_batched, False),
            (f"faster-whisper batched B={batch_size}, joined", faster_whisper_batched, True),
            (f"transformers Whisper pipeline B={batch_size}", transformers_pipeline, False),
            (f"liveguard torch B={batch_size} +VAD", liveguard("torch"), False),
            (f"liveguard ct2 engine B={batch_size} +VAD", liveguard("ct2"), False)]


def run_bench(model_name: str = "whisper-base", device: str | None = None, batch_size: int = 8,
              repeat: int = 1, packed: int = 0, only: list[str] | None = None) -> dict:
    """Every path on the same audio, one after the other, in this process; one row each."""
    import torch

    from asr.whisper_model import default_device

    device = device or default_device()
    clips = reference_clips()
    if not clips:
        raise SystemExit("no reference speech found: run scripts/setup.sh (needs pocketsphinx-testdata)")
    items = pack_clips(clips, packed) if packed else clips * repeat
    audio_s = sum(c.seconds for c in items)
    rows = []
    for name, setup, joined in _paths(model_name, device, batch_size):
        if only and not any(o in name for o in only):
            continue
        inputs = join_by_language(items) if joined else items
        try:
            hyps_for = setup()
        except ImportError as exc:
            rows.append({"path": name, "skipped": f"not installed ({exc.name})"})
            continue
        hyps_for(items[:1])  # warm-up: one-off costs (kernels, mel filters, VAD) are not timed
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        hyps = hyps_for(inputs)
        wall = time.perf_counter() - t
        w, c = _score(inputs, hyps)
        peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else _peak_rss_mb()
        rows.append({"path": name, "wall_s": wall, "audio_s_per_s": audio_s / wall, "wer": w, "cer": c,
                     "peak_mb": peak, "hyps": hyps})
    base = next((r for r in rows if "transcribe() loop" in r["path"] and "wall_s" in r), None)
    for r in rows:
        if base and "wall_s" in r:
            r["vs_loop"] = base["wall_s"] / r["wall_s"]
    return {"model": model_name, "device": device, "threads": torch.get_num_threads(), "items": len(items),
            "set": f"packed x{packed}" if packed else "clips", "audio_s": audio_s, "rows": rows,
            "names": [c.name for c in items]}


def format_bench(res: dict) -> str:
    peak = "peak GPU MiB" if res["device"] == "cuda" else "peak RSS MiB"
    lines = [f"model {res['model']} on {res['device']} ({res['threads']} threads), {res['items']} items "
             f"({res['set']}), {res['audio_s']:.1f} s of real speech",
             f"{'path':40s} {'wall s':>7s} {'audio-s/s':>9s} {'x loop':>6s} {'WER en':>7s} {'CER zh':>7s} {peak:>12s}"]
    for r in res["rows"]:
        if "skipped" in r:
            lines.append(f"{r['path']:40s} skipped: {r['skipped']}")
            continue
        lines.append(f"{r['path']:40s} {r['wall_s']:7.2f} {r['audio_s_per_s']:9.2f} {r.get('vs_loop', 1):6.2f} "
                     f"{r['wer'] * 100:6.1f}% {r['cer'] * 100:6.1f}% {r['peak_mb']:12.0f}")
    return "\n".join(lines)
