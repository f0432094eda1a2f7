"""English corpus items as a speech recogniser writes them: espeak-ng speech -> Whisper base.

    .venv/bin/python scripts/asr_roundtrip.py WRITER.jsonl [...] --per-writer 150 --out claims/data/corpus/noise/

For each writer file, a seeded sample of its English items (labelled and lawful alike, so the
noise never signals a label) is spoken by espeak-ng and transcribed by LiveGuard's ASR (registry
Whisper base, CTranslate2 engine, VAD on); the transcript replaces the text, with kind
"asr_noised", the writer kept (so the item stays in its writer's split) and the original text in
`orig_text`. Items whose transcript is empty are skipped. Output: noise/en_asr_<writer>.jsonl.
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr import AsrOptions, Transcriber, load_whisper  # noqa: E402
from ingest.windows import Window  # noqa: E402


def speak(text: str, wav: Path, voice: str, speed: int) -> np.ndarray:
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True,
                   capture_output=True)
    with wave.open(str(wav)) as w:
        rate, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2")
    audio = pcm.astype(np.float32) / 32768
    if rate != 16000:  # espeak-ng speaks at 22,050 Hz
        n = int(len(audio) * 16000 / rate)
        audio = np.interp(np.linspace(0, len(audio) - 1, n), np.arange(len(audio)), audio).astype(np.float32)
    return np.concatenate([np.zeros(4000, np.float32), audio, np.zeros(8000, np.float32)])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--per-writer", type=int, default=150)
    ap.add_argument("--out", default="claims/data/corpus/noise")
    ap.add_argument("--seed", type=int, default=31)
    args = ap.parse_args()
    transcriber = Transcriber(load_whisper("whisper-base", None, engine="ct2"), AsrOptions())
    rng = random.Random(args.seed)
    voices = ["en-us", "en-gb", "en-us+m3", "en-us+f2"]
    for f in args.files:
        rows = [json.loads(line) for line in Path(f).read_text(encoding="utf-8").splitlines() if line.strip()]
        rows = [r for r in rows if r.get("lang") == "en"]
        sample = rng.sample(rows, min(args.per_writer, len(rows)))
        out_rows = []
        with tempfile.TemporaryDirectory() as tmp:
            windows = []
            for i, r in enumerate(sample):
                audio = speak(r["text"], Path(tmp) / f"{i}.wav", rng.choice(voices), rng.choice([150, 170, 190]))
                windows.append(Window(stream_id=str(i), index=0, t0=0.0, audio=audio[:30 * 16000]))
            for wt in transcriber.transcribe(windows):
                r = sample[int(wt.window.stream_id)]
                text = " ".join(s.text.strip() for s in wt.segments if not s.hallucination).strip()
                if not text:
                    continue
                out_rows.append({**{k: v for k, v in r.items() if k != "segments"}, "text": text,
                                 "kind": "asr_noised", "orig_kind": r.get("kind"), "orig_text": r["text"],
                                 "noise": "espeak-ng+whisper-base"})
        writer = sample[0].get("writer", Path(f).stem) if sample else Path(f).stem
        dest = Path(args.out) / f"en_asr_{writer}.jsonl"
        dest.parent.mkdir(parents=True, exist_ok=True)
        out_rows.sort(key=lambda r: r["orig_text"])
        dest.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in out_rows),
                        encoding="utf-8")
        print(f"{f}: {len(out_rows)} of {len(sample)} items -> {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
