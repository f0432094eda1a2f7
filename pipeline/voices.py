"""Voices against the gallery: `ai_impersonation` for protected people, `ban_evasion` for
blacklisted streamers (「换马甲」: a banned streamer back on a new account).

audio windows -> Silero VAD spans -> speech turns (runs of speech with pauses < 1 s, cut into
pieces of ~3 s of speech, at least 2 s) -> one voice print per turn (vision.voiceprint) -> the
closest gallery entry by cosine similarity -> matches of the same entry less than `max_gap_s`
apart are one voice, so one continuous voice gives one finding, not one per turn.

A protected person's voice on an account they did not authorise gives `ai_impersonation`; a
blacklisted streamer's voice on any account that is not one of their known (banned) accounts
gives `ban_evasion`. The face path does the same for faces (pipeline.impersonation).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from asr.vad import SpeechDetector, VadOptions
from claims import get_label
from ingest.decode import SAMPLE_RATE
from pipeline.findings import Finding
from vision.errors import VoiceSampleError
from vision.gallery import Gallery, GalleryEntry, describe_match
from vision.voiceprint import MATCH_SIMILARITY, MIN_SPEECH_S, VOICE_MODEL_ID, VoiceEncoder, cosine_similarities

__all__ = ["ENROL_MIN_SPEECH_S", "enrol_voice", "speech_of", "VoiceOptions", "SpeechTurn", "VoiceMatch",
           "speech_turns", "VoiceChecker", "voice_findings", "similarity_score", "identity_label", "BAN_EVASION",
           "IMPERSONATION"]

IMPERSONATION = "ai_impersonation"
BAN_EVASION = "ban_evasion"
DECIDED_BY = f"voice:{VOICE_MODEL_ID}"
MAX_CARRY_S = 6.0  # speech carried from one window into the next, at most
ENROL_MIN_SPEECH_S = 3.0  # an enrolment print from less speech than this is too unstable to keep


def identity_label(entry: GalleryEntry) -> str:
    """The finding an unauthorised match of this entry gives."""
    return BAN_EVASION if entry.kind == "blacklisted" else IMPERSONATION


@dataclass(frozen=True)
class VoiceOptions:
    threshold: float = MATCH_SIMILARITY  # cosine similarity at or above which a turn is that person
    turn_s: float = 3.0  # seconds of speech per print
    min_speech_s: float = MIN_SPEECH_S  # a run of speech shorter than this gives no print
    max_pause_s: float = 1.0  # a longer pause ends a run of speech (a turn never bridges it)
    max_gap_s: float = 10.0  # matches of one entry closer than this are one continuous voice
    min_turns: int = 1  # matching turns a voice needs before it is a finding
    vad: VadOptions = field(default_factory=VadOptions)

    def __post_init__(self):
        if not 0 < self.threshold < 1 or self.min_turns < 1 or not 0 < self.min_speech_s <= self.turn_s:
            raise ValueError(f"need 0 < threshold < 1, min_turns >= 1, 0 < min_speech_s <= turn_s; got "
                             f"{self.threshold}, {self.min_turns}, {self.min_speech_s}, {self.turn_s}")


@dataclass(frozen=True, eq=False)
class SpeechTurn:
    t0: float  # stream seconds of its first and last speech sample
    t1: float
    audio: np.ndarray  # speech only: the pauses inside the run are cut out

    @property
    def speech_s(self) -> float:
        return len(self.audio) / SAMPLE_RATE


@dataclass(frozen=True, eq=False)
class VoiceMatch:
    """One continuous voice matched to one gallery entry."""

    entry: GalleryEntry
    t0: float
    t1: float
    similarity: float  # the highest similarity of any of its turns to any of the entry's prints
    turns: tuple[tuple[float, float, float], ...]  # (t0, t1, similarity) of the matching turns
    authorised: bool  # protected: the account is authorised; blacklisted: it is one of their own

    @property
    def label(self) -> str:
        return identity_label(self.entry)


def similarity_score(similarity: float, threshold: float = MATCH_SIMILARITY) -> float:
    """0.5 at the threshold, 1.0 at identical prints (like the face score); for ordering, not a probability."""
    return round(float(np.clip(0.5 + 0.5 * (similarity - threshold) / (1.0 - threshold), 0.0, 1.0)), 4)


def _runs(spans: list[tuple[int, int]], max_pause: int) -> list[list[tuple[int, int]]]:
    runs: list[list[tuple[int, int]]] = []
    for s, e in spans:
        if runs and s - runs[-1][-1][1] <= max_pause:
            runs[-1].append((s, e))
        else:
            runs.append([(s, e)])
    return runs


def speech_turns(audio: np.ndarray, t0: float, spans: list[tuple[int, int]],
                 opts: VoiceOptions = VoiceOptions()) -> list[SpeechTurn]:
    """Speech of one stretch of audio (VAD spans in samples) as turns of ~`turn_s` seconds of speech.
    A run shorter than `min_speech_s` gives nothing; a short tail joins the turn before it."""
    turn, least = round(opts.turn_s * SAMPLE_RATE), round(opts.min_speech_s * SAMPLE_RATE)
    out = []
    for run in _runs(spans, round(opts.max_pause_s * SAMPLE_RATE)):
        # sample index in `audio` of every speech sample, so each piece keeps its true time span
        where = np.concatenate([np.arange(s, e) for s, e in run])
        n = len(where)
        if n < least:
            continue
        cuts = list(range(0, n, turn))
        if n - cuts[-1] < least and len(cuts) > 1:
            cuts.pop()
        for a, b in zip(cuts, cuts[1:] + [n]):
            idx = where[a:b]
            out.append(SpeechTurn(t0 + idx[0] / SAMPLE_RATE, t0 + (idx[-1] + 1) / SAMPLE_RATE, audio[idx]))
    return out


class VoiceChecker:
    """Voices against the gallery, for one recording or stream, fed one window at a time.

    `feed(window)` returns the findings of voices that ended (no matching speech for `max_gap_s`);
    `finish()` the rest. Speech at the end of a window that may go on in the next one is carried
    over, so a sentence cut by a window boundary is still one turn. Keeps only the carried speech
    and the open voices' times, never the recording.
    """

    def __init__(self, source: str, account: str | None, gallery: Gallery, encoder: VoiceEncoder | None = None,
                 vad: SpeechDetector | None = None, opts: VoiceOptions = VoiceOptions()):
        self.source, self.account, self.opts = source, account, opts
        self.prints, self.owners = gallery.voice_matrix()
        self.entries = list(dict.fromkeys(self.owners))
        self.encoder = encoder or (VoiceEncoder() if len(self.prints) else None)
        self.vad = vad or (SpeechDetector(opts.vad) if len(self.prints) else None)
        self._carry: tuple[float, np.ndarray] | None = None  # (stream time of audio[0], audio)
        self._open: dict[int, list] = {}  # entry index -> [t0, t1, best similarity, [(t0, t1, sim)]]
        self.turns_seen = 0
        self.speech_s = 0.0

    @property
    def active(self) -> bool:
        return len(self.prints) > 0

    def feed(self, window) -> list[Finding]:
        """`window`: anything with `.t0` (stream seconds) and `.audio` (16 kHz mono float32)."""
        if not self.active:
            return []
        t0, audio = float(window.t0), np.asarray(window.audio, np.float32)
        if self._carry is not None:
            c0, caudio = self._carry
            if abs(c0 + len(caudio) / SAMPLE_RATE - t0) < 0.05:  # contiguous: join, else drop the tail
                t0, audio = c0, np.concatenate([caudio, audio])
            self._carry = None
        spans = self.vad.spans(audio)
        # Speech running into the end of the window may go on in the next one: carry it over (at
        # most `MAX_CARRY_S`, so a long monologue is still checked as it goes).
        pause = round(self.opts.max_pause_s * SAMPLE_RATE)
        if spans and len(audio) - spans[-1][1] <= pause:
            cut = max(_runs(spans, pause)[-1][0][0], len(audio) - round(MAX_CARRY_S * SAMPLE_RATE))
            self._carry = (t0 + cut / SAMPLE_RATE, audio[cut:])
            spans = [(s, min(e, cut)) for s, e in spans if s < cut]
        return self._check(speech_turns(audio, t0, spans, self.opts))

    def finish(self) -> list[Finding]:
        out = []
        if self._carry is not None and self.active:
            c0, caudio = self._carry
            self._carry = None
            out += self._check(speech_turns(caudio, c0, self.vad.spans(caudio), self.opts))
        out += self._close(lambda t1: True)
        return sorted(out, key=lambda f: (f.t0, f.label))

    def _check(self, turns: list[SpeechTurn]) -> list[Finding]:
        if not turns:
            return []
        self.turns_seen += len(turns)
        self.speech_s += sum(t.speech_s for t in turns)
        sims = cosine_similarities(self.encoder.embed_many([t.audio for t in turns]), self.prints)
        owner_idx = np.array([self.entries.index(o) for o in self.owners])
        out = []
        for turn, row in zip(turns, sims):
            out += self._close(lambda t1, now=turn.t0: now - t1 > self.opts.max_gap_s)
            per_entry = np.array([row[owner_idx == i].max() for i in range(len(self.entries))])
            best = int(np.argmax(per_entry))
            sim = float(per_entry[best])
            if sim < self.opts.threshold:
                continue
            g = self._open.setdefault(best, [turn.t0, turn.t1, sim, []])
            g[1], g[2] = turn.t1, max(g[2], sim)
            g[3].append((round(turn.t0, 3), round(turn.t1, 3), round(sim, 4)))
        return out

    def _close(self, done) -> list[Finding]:
        out = []
        for i in [i for i, g in self._open.items() if done(g[1])]:
            t0, t1, sim, turns = self._open.pop(i)
            if len(turns) < self.opts.min_turns:
                continue
            entry = self.entries[i]
            m = VoiceMatch(entry, t0, t1, sim, tuple(turns), entry.authorises(self.account))
            if not m.authorised:
                out.append(_finding(m, self.account, self.source, self.opts))
        return out


def _finding(m: VoiceMatch, account: str | None, source: str, opts: VoiceOptions) -> Finding:
    label = get_label(m.label)
    times = ", ".join(f"{a:.1f}-{b:.1f}" for a, b, _ in m.turns[:5]) + (" ..." if len(m.turns) > 5 else "")
    what = describe_match("voice", m.entry, account)
    evidence = (f"{what}: similarity {m.similarity:.3f} >= {opts.threshold} in {len(m.turns)} speech turn(s) "
                f"at t={times} s")
    return Finding(source=source, t0=round(m.t0, 3), t1=round(m.t1, 3), label=m.label,
                   score=similarity_score(m.similarity, opts.threshold), evidence=evidence, decided_by=DECIDED_BY,
                   legal_basis=label.legal_basis, severity=label.severity, segment_text="", lang="", asr_model="")


def voice_findings(windows: Iterable, account: str | None, gallery: Gallery, source: str = "",
                   encoder: VoiceEncoder | None = None, opts: VoiceOptions = VoiceOptions()) -> list[Finding]:
    """The one-shot form: every voice finding of a recording's windows, in time order."""
    checker = VoiceChecker(source, account, gallery, encoder, opts=opts)
    out = [f for w in windows for f in checker.feed(w)]
    return sorted(out + checker.finish(), key=lambda f: (f.t0, f.label))


def speech_of(audio: np.ndarray, vad: SpeechDetector) -> np.ndarray:
    """The speech of a recording, pauses cut out (VAD spans joined)."""
    spans = vad.spans(np.asarray(audio, np.float32))
    return np.concatenate([audio[s:e] for s, e in spans]) if spans else np.zeros(0, np.float32)


def enrol_voice(audio: np.ndarray, encoder: VoiceEncoder, vad: SpeechDetector, label: str = "recording",
                min_speech_s: float = ENROL_MIN_SPEECH_S) -> np.ndarray:
    """The voice print of one speaker's recording (16 kHz mono float32): all of its speech, one print.
    VoiceSampleError when it holds less than `min_speech_s` of speech."""
    speech = speech_of(audio, vad)
    if len(speech) < min_speech_s * SAMPLE_RATE:
        raise VoiceSampleError(f"{label}: {len(speech) / SAMPLE_RATE:.1f} s of speech found, need at least "
                               f"{min_speech_s:.0f} s of one person speaking (10 s or more is better)")
    return encoder.embed(speech)
