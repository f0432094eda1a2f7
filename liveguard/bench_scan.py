"""`liveguard bench scan`: `liveguard scan` against faster-whisper's batched pipeline, end to end.

Each row is one whole process started from scratch (imports, model loading, decoding the mp4,
transcribing, and for scan its claims, report and database), timed from the outside: wall time,
CPU time and peak RSS from the child's own resource usage (os.wait4), so nothing one run loads
helps the next. The two are run interleaved (scan, faster-whisper, scan, faster-whisper, ...) so
that a busy shared machine slows both alike; compare ratios within one run.

The recording is built at run time from real speech that installs offline (LibriVox and "cards"
clips from Debian's pocketsphinx-testdata, the f5-tts English clip), laid end to end with short
pauses up to the length asked for, and muxed as AAC (44.1 kHz stereo) with an H.264 picture into
an mp4, as a real recording would come. The music bed is synthetic (ffmpeg lavfi: a tremolo chord
and a stepped melody), mixed at a given SNR against the speech. Built recordings are cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Recording", "build_recording", "run_scan_bench", "format_scan_bench"]

SPEECH_RATE = 16000  # Hz: the clips as loaded (ingest.decode.SAMPLE_RATE)
PAUSES_S = (0.4, 0.7, 1.0, 1.5, 2.5)  # between clips, in turn: a talker's pauses, some long enough to cut at
VIDEO = "testsrc2=size=640x360:rate=25"  # the picture: moving, so H.264 has real frames to store
# A tremolo A-minor chord and a melody stepping through a pentatonic scale twice a second (the
# phase restarts with each note, so the steps do not click). Loud enough at 15 dB SNR to be heard
# under every word; not speech-like, so it tests the VAD and Whisper, not a second talker.
MUSIC = ("aevalsrc=exprs='0.25*(sin(2*PI*220*t)+sin(2*PI*261.63*t)+sin(2*PI*329.63*t))"
         "*(0.6+0.4*sin(2*PI*3*t))"
         "+0.35*sin(2*PI*(t-floor(t*2)/2)*440*pow(2,(2*mod(floor(t*2),5)+3*eq(mod(floor(t*2),5),4))/12))'"
         ":s=16000:c=mono")
FW_SCRIPT = """
import sys
from faster_whisper import BatchedInferencePipeline, WhisperModel
model_dir, media, out, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pipe = BatchedInferencePipeline(WhisperModel(model_dir, device="cpu", compute_type="int8"))
segments, info = pipe.transcribe(media, batch_size=batch, beam_size=1)
with open(out, "w", encoding="utf-8") as f:
    for s in segments:
        f.write(s.text.strip() + "\\n")
"""


@dataclass(frozen=True)
class Recording:
    name: str
    path: Path
    seconds: float
    reference: str  # what is said, in order


def _english_clips():
    from liveguard.bench_asr import reference_clips

    clips = [c for c in reference_clips() if c.lang == "en"]
    if not clips:
        raise SystemExit("no reference speech found: run scripts/setup.sh (needs pocketsphinx-testdata)")
    return clips


def _speech_track(seconds: float) -> tuple[np.ndarray, np.ndarray, str]:
    """(audio, speech mask, reference): the English clips end to end with pauses, as many as fit
    whole in `seconds`, then silence to `seconds`."""
    clips = _english_clips()
    parts, mask, refs, n, k = [], [], [], 0, 0
    while True:
        clip = clips[k % len(clips)]
        pause = np.zeros(int(PAUSES_S[k % len(PAUSES_S)] * SPEECH_RATE), np.float32)
        if refs and n + len(clip.audio) + len(pause) > seconds * SPEECH_RATE:
            break
        parts += [clip.audio, pause]
        mask += [np.ones(len(clip.audio), bool), np.zeros(len(pause), bool)]
        refs.append(clip.reference)
        n += len(clip.audio) + len(pause)
        k += 1
    tail = max(0, int(seconds * SPEECH_RATE) - n)  # silence to the length asked for
    parts.append(np.zeros(tail, np.float32))
    mask.append(np.zeros(tail, bool))
    return np.concatenate(parts), np.concatenate(mask), " ".join(refs)


def _ffmpeg(*args: str) -> None:
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], capture_output=True)
    if proc.returncode:
        raise RuntimeError(f"ffmpeg failed: {proc.stderr.decode(errors='replace')[-2000:]}")


def _music(n: int) -> np.ndarray:
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", MUSIC,
                           "-t", f"{n / SPEECH_RATE:.3f}", "-f", "f32le", "-"], capture_output=True)
    if proc.returncode:
        raise RuntimeError(f"ffmpeg failed: {proc.stderr.decode(errors='replace')[-2000:]}")
    return np.resize(np.frombuffer(proc.stdout, "<f4").astype(np.float32), n)


def build_recording(seconds: float, snr_db: float | None, root: Path | None = None) -> Recording:
    """The benchmark recording (cached by its parameters): speech, a music bed at `snr_db` (None:
    clean), AAC 44.1 kHz stereo + H.264 640x360 25 fps in an mp4."""
    from models import cache_dir

    audio, mask, reference = _speech_track(seconds)
    key = hashlib.sha256(json.dumps([float(seconds), None if snr_db is None else float(snr_db), MUSIC, VIDEO, PAUSES_S, len(audio),
                                     hashlib.sha256(audio.tobytes()).hexdigest()]).encode()).hexdigest()[:12]
    name = f"speech{'' if snr_db is None else f'+music{snr_db:g}dB'}-{len(audio) / SPEECH_RATE:.0f}s"
    root = root or cache_dir() / "bench"
    path = root / f"{name}-{key}.mp4"
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            work = Path(tmp)
            mixed = audio.copy()
            if snr_db is not None:
                music = _music(len(audio))
                speech_power = float(np.mean(np.square(audio[mask])))
                music_power = float(np.mean(np.square(music)))
                mixed += music * np.sqrt(speech_power / music_power / 10 ** (snr_db / 10))
            mixed = np.clip(mixed, -1.0, 1.0)
            wav = work / "mix.wav"
            _write_wav(wav, mixed)
            part = work / "out.mp4"
            _ffmpeg("-i", str(wav), "-f", "lavfi", "-i", VIDEO, "-shortest", "-map", "1:v", "-map", "0:a",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-b:a", "128k", "-ar", "44100", "-ac", "2", "-movflags", "+faststart", str(part))
            os.replace(part, path)
    return Recording(name, path, len(audio) / SPEECH_RATE, reference)


def _write_wav(path: Path, audio: np.ndarray) -> None:
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SPEECH_RATE)
        w.writeframes((audio * 32767).astype("<i2").tobytes())


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    peak_mb: float
    text: str
    returncode: int


def _run(cmd: list[str], out: Path, env: dict) -> Run:
    """One whole process: wall time around it, CPU time and peak RSS from its own rusage."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, _read_text(out), proc.returncode)


def _read_text(out: Path) -> str:
    if out.suffix == ".jsonl":
        recs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
        # every transcript segment, hallucination-marked ones too: what the transcript says
        return " ".join(r["text"] for r in recs if r.get("type") == "transcript")
    return " ".join(out.read_text(encoding="utf-8").split("\n"))


def _commands(rec: Recording, work: Path, batch_size: int, scan_args: list[str], model_dir: Path):
    py = sys.executable
    scan_out, fw_out = work / "scan.jsonl", work / "fw.txt"
    db = work / "scan.sqlite"
    scan = [py, "-m", "liveguard.cli", "scan", str(rec.path), "--out", str(scan_out), "-q",
            "--db", f"sqlite:///{db}", "--clips", str(work / "clips"), "--batch-size", str(batch_size), *scan_args]
    fw = [py, "-c", FW_SCRIPT, str(model_dir), str(rec.path), str(fw_out), str(batch_size)]

    def before():  # every scan run starts with no database, as a first scan of a recording does
        db.unlink(missing_ok=True)
    return [("liveguard scan", scan, scan_out, before), (f"faster-whisper batched B={batch_size}", fw, fw_out, None)]


def run_scan_bench(seconds: float = 636.0, snrs: tuple[float | None, ...] = (15.0, None), repeat: int = 2,
                   short_s: float | None = 60.0, batch_size: int = 8, scan_args: list[str] | None = None,
                   log=None, root: Path | None = None) -> dict:
    """Every (recording, path) pair `repeat` times, interleaved; one row per pair (mean of runs)."""
    from asr.metrics import wer
    from models import prepare_ct2

    model_dir = prepare_ct2("whisper-base")
    recordings = [build_recording(seconds, snr, root) for snr in snrs]
    if short_s:
        recordings.append(build_recording(short_s, snrs[0], root))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rec in recordings:
            work = Path(tmp) / rec.name
            work.mkdir()
            paths = _commands(rec, work, batch_size, scan_args or [], model_dir)
            runs: dict[str, list[Run]] = {name: [] for name, *_ in paths}
            for i in range(repeat):
                for name, cmd, out, before in paths:
                    if before:
                        before()
                    run = _run(cmd, out, env)
                    runs[name].append(run)
                    if log:
                        log(f"{rec.name} {name} run {i + 1}: {run.wall_s:.1f} s wall, {run.cpu_s:.1f} s CPU")
            for name, rs in runs.items():
                wall = statistics.mean(r.wall_s for r in rs)
                rows.append({"recording": rec.name, "audio_s": rec.seconds, "path": name, "runs": len(rs),
                             "wall_s": wall, "walls": [r.wall_s for r in rs], "audio_s_per_s": rec.seconds / wall,
                             "cpu_s": statistics.mean(r.cpu_s for r in rs),
                             "peak_mb": max(r.peak_mb for r in rs),
                             # the same words score the same however Whisper wrote its digits (asr.metrics)
                             "wer": wer([rec.reference], [rs[-1].text], digits_as_words=True),
                             "wer_whisper_norm": wer([rec.reference], [rs[-1].text]),
                             "words": len(rec.reference.split())})
            scan_row, fw_row = rows[-2], rows[-1]
            # per pair of neighbouring runs, so a slow spell on the shared machine hits both
            scan_row["x_fw"] = statistics.mean(f / s for s, f in zip(scan_row["walls"], fw_row["walls"]))
            fw_row["x_fw"] = 1.0
    return {"cpus": os.cpu_count(), "batch_size": batch_size, "repeat": repeat, "rows": rows,
            "scan_args": scan_args or []}


def format_scan_bench(res: dict) -> str:
    head = (f"{'recording':26s} {'path':28s} {'runs':>4s} {'wall s':>7s} {'audio-s/s':>9s} {'x fw':>5s} "
            f"{'CPU s':>7s} {'WER':>6s} {'WER wn':>6s} {'peak RSS MiB':>12s}")
    lines = [f"whole processes on cpu ({res['cpus']} CPUs), batch {res['batch_size']}, {res['repeat']} runs each, "
             f"interleaved" + (f"; scan {' '.join(res['scan_args'])}" if res["scan_args"] else "")
             + "; WER: lone digits spelled before Whisper's normaliser, WER wn: its normaliser alone", head]
    for r in res["rows"]:
        lines.append(f"{r['recording']:26s} {r['path']:28s} {r['runs']:4d} {r['wall_s']:7.2f} "
                     f"{r['audio_s_per_s']:9.2f} {r['x_fw']:5.2f} {r['cpu_s']:7.2f} {r['wer'] * 100:5.1f}% "
                     f"{r['wer_whisper_norm'] * 100:5.1f}% {r['peak_mb']:12.0f}")
    return "\n".join(lines)
