"""`liveguard gallery calibrate-voice`: same- and different-speaker similarities of voice prints on
real speech that installs offline, and the false accept / false reject rates per threshold.

Speakers (identity known from where the clips come from, never from the prints):

- `librivox`: the five LibriVox clips of Debian's pocketsphinx-testdata, all one reader
  (Sense and Sensibility, chapter 1: sentences 0870-0930);
- `cards`: the five "cards" utterances of pocketsphinx-testdata, one recording session of one
  speaker; too short alone (1-3.5 s), so joined into two clips (001-003, 004-005);
- `f5-en`, `f5-zh`, `f5-main`, `f5-town`, `f5-country`: the example voices of the f5-tts wheel
  (scripts/setup.sh puts them in .cache/testdata), one clip each, split into halves.

goforward / numbers / something.raw of pocketsphinx-testdata are left out: who speaks them is not
documented (numbers and something are 0.83 alike and may be one person).

The check is the one a scan makes: a print enrolled from one whole clip against the ~3 s speech
turns (`pipeline.voices.speech_turns`) of every other clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.decode import SAMPLE_RATE
from liveguard.calibration_table import distribution, distribution_lines, sweep, sweep_lines

__all__ = ["CalibrationClip", "CalibrationReport", "calibration_clips", "calibrate_voice", "format_calibration"]

POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
TESTDATA = Path(__file__).resolve().parent.parent / ".cache" / "testdata"
F5_VOICES = {"f5-en": "basic_ref_en.wav", "f5-zh": "basic_ref_zh.wav", "f5-main": "main.flac",
             "f5-town": "town.flac", "f5-country": "country.flac"}
SWEEP = tuple(round(0.70 + 0.01 * i, 2) for i in range(21))  # thresholds tabled: 0.70 .. 0.90


@dataclass(frozen=True, eq=False)
class CalibrationClip:
    speaker: str
    name: str
    audio: np.ndarray  # 16 kHz mono float32, as recorded (silences included)


def _load(path: Path) -> np.ndarray:
    from ingest.decode import AudioBlock, decode_media

    blocks = [b.samples for b in decode_media(path, frame_fps=0) if isinstance(b, AudioBlock)]
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def _halves(speaker: str, audio: np.ndarray) -> list[CalibrationClip]:
    mid = len(audio) // 2
    return [CalibrationClip(speaker, f"{speaker}/1st-half", audio[:mid]),
            CalibrationClip(speaker, f"{speaker}/2nd-half", audio[mid:])]


def calibration_clips(testdata: Path = TESTDATA, pocketsphinx: Path = POCKETSPHINX) -> list[CalibrationClip]:
    """Every clip found; missing sources are skipped (setup.sh installs them all)."""
    clips = [CalibrationClip("librivox", p.stem[-4:], _load(p))
             for p in sorted((pocketsphinx / "librivox").glob("*.wav"))]
    cards = [_load(pocketsphinx / "cards" / f"00{i}.wav") for i in range(1, 6)
             if (pocketsphinx / "cards" / f"00{i}.wav").exists()]
    if len(cards) == 5:
        gap = np.zeros(SAMPLE_RATE // 4, np.float32)
        clips += [CalibrationClip("cards", "cards/001-003", np.concatenate([cards[0], gap, cards[1], gap, cards[2]])),
                  CalibrationClip("cards", "cards/004-005", np.concatenate([cards[3], gap, cards[4]]))]
    for speaker, name in F5_VOICES.items():
        if (testdata / name).exists():
            clips += _halves(speaker, _load(testdata / name))
    return clips


@dataclass(frozen=True)
class CalibrationReport:
    clips: list[tuple[str, str, float, float]]  # speaker, clip, seconds, seconds of speech
    same: np.ndarray  # similarities, enrolment clip vs turns of another clip of the same speaker
    different: np.ndarray  # ... of another speaker
    threshold: float  # the one in use

    def far(self, t: float) -> float:
        """False accepts: share of different-speaker turns at or above `t`."""
        return float(np.mean(self.different >= t)) if len(self.different) else float("nan")

    def frr(self, t: float) -> float:
        """False rejects: share of same-speaker turns below `t`."""
        return float(np.mean(self.same < t)) if len(self.same) else float("nan")

    def zero_far_threshold(self) -> float:
        """The lowest tabled threshold with no false accept."""
        return next((t for t in SWEEP if self.far(t) == 0.0), SWEEP[-1])

    def to_json(self) -> dict:
        return {"clips": [{"speaker": s, "clip": c, "seconds": round(d, 2), "speech_s": round(sp, 2)}
                          for s, c, d, sp in self.clips],
                "same_speaker": distribution(self.same), "different_speaker": distribution(self.different),
                "threshold": self.threshold, "far": round(self.far(self.threshold), 4),
                "frr": round(self.frr(self.threshold), 4), "zero_far_threshold": self.zero_far_threshold(),
                "sweep": sweep(SWEEP, self.far, self.frr)}


def calibrate_voice(clips: list[CalibrationClip] | None = None, encoder=None, vad=None,
                    threshold: float | None = None) -> CalibrationReport:
    from asr.vad import SpeechDetector
    from pipeline.voices import VoiceOptions, speech_of, speech_turns
    from vision.voiceprint import MATCH_SIMILARITY, VoiceEncoder

    clips = clips if clips is not None else calibration_clips()
    encoder = encoder or VoiceEncoder()
    vad = vad or SpeechDetector()
    opts = VoiceOptions()
    speech = [speech_of(c.audio, vad) for c in clips]
    keep = [i for i, s in enumerate(speech) if len(s) >= opts.min_speech_s * SAMPLE_RATE]
    enrolled = dict(zip(keep, encoder.embed_many([speech[i] for i in keep])))
    turns = {i: speech_turns(c.audio, 0.0, vad.spans(c.audio), opts) for i, c in enumerate(clips)}
    owner = [i for i, ts in turns.items() for _ in ts]
    probes = encoder.embed_many([t.audio for ts in turns.values() for t in ts])
    same, different = [], []
    for e, ref in enrolled.items():
        for j, p in zip(owner, probes):
            if j == e:
                continue
            (same if clips[j].speaker == clips[e].speaker else different).append(float(p @ ref))
    return CalibrationReport(
        clips=[(c.speaker, c.name, len(c.audio) / SAMPLE_RATE, len(s) / SAMPLE_RATE) for c, s in zip(clips, speech)],
        same=np.array(same), different=np.array(different),
        threshold=threshold if threshold is not None else MATCH_SIMILARITY)


def format_calibration(r: CalibrationReport) -> str:
    j = r.to_json()
    speakers = sorted({c["speaker"] for c in j["clips"]})
    lines = [f"{len(j['clips'])} clips of {len(speakers)} speakers ({', '.join(speakers)}); "
             "enrolment = one whole clip, probe = each ~3 s speech turn of every other clip", ""]
    lines += distribution_lines([("same speaker", j["same_speaker"]), ("different speaker", j["different_speaker"])],
                                18)
    lines += ["", *sweep_lines(j["sweep"], r.threshold)]
    lines += ["", f"in use: {r.threshold} (FAR {j['far']:.2%}, FRR {j['frr']:.2%}); lowest threshold with no false "
              f"accept here: {j['zero_far_threshold']}"]
    return "\n".join(lines)
