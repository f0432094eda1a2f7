"""Fusion: one time-aligned event per appearance, out of the face, voice, transcript and synthetic evidence.

The face path (`pipeline.impersonation`) gives one `ai_impersonation` / `ban_evasion` finding per face
track, the voice path (`pipeline.voices`) one per continuous voice. `fuse()` turns them, with the
transcript, into the flags a reviewer sees. Pure: findings and ASR segments in, findings out; no
models, no gallery file (the gallery entry of a finding is read from its evidence, which both
paths write as ``matches gallery entry 'Name'`` / ``matches blacklisted streamer 'Name'``).

Rules (`FusionOptions` holds the numbers):

1. **Face + voice.** Face and voice findings of the same label and the same gallery entry that overlap
   or lie within `max_gap_s` (5 s) of each other are one appearance, hence one finding: `t0` the
   earliest, `t1` the latest, `decided_by` both ids joined by "+", `score = 1 - (1 - a)(1 - b)` with
   `a`, `b` the best face and best voice scores (capped at `score_cap`, 0.99), evidence both
   findings' evidence (distances/similarities, face frame times, voice turns). Only face-voice pairs
   link here; face tracks of one entry less than 30 s apart were already joined into one appearance
   by `pipeline.impersonation`, and two face findings further apart stay two.
2. **Transcript cue.** A transcript segment within `cue_gap_s` (5 s) of an appearance in which the
   host claims to be that appearance's gallery person — "I am / I'm / my name is / this is <name>",
   「我是 / 我就是 / 本人 / 我叫<name>」, optionally "the real" / 「真正的」 before the name — raises its
   score by `cue_weight` (0.15), capped at 0.99 (a score already above the cap is kept), and is
   quoted in the evidence; `decided_by` gains `cue:identity-claim@1` and the finding's
   `segment_text`/`lang`/`asr_model` become the cue's. "<name>'s" and 「<name>的」 are not claims
   ("I'm Li Ming's fan"). A cue naming a *different* person than the face/voice match changes
   nothing.
3. **Words alone never flag.** A claim to be a gallery person with no face or voice match of that
   person gives nothing here: anyone may say a celebrity's name. (The spoken-claims rules keep
   their own, separate findings, e.g. fake-identity or "I am the famous ..." patterns.)
4. **Synthetic.** An `undisclosed_ai_content` finding decided by picture or voice (no words behind
   it: the synthetic models or the AI-label rule) stays its own finding. An appearance that it
   overlaps mentions it ("synthetic score X at t=a-b s"). When the host claims to be a real person
   (「我是真人」, 「真人主播/直播/出镜」, 「我不是AI/数字人」, "I'm a real person", "I'm not an AI")
   within `cue_gap_s` of such a finding, the picture or voice says otherwise: its score is raised
   by `cue_weight` the same way, the words quoted, `cue:real-person-claim@1` added to `decided_by`.

Everything else (spoken and on-screen claims) passes through unchanged, in its original order; a
fused finding takes the place of the first of its parts.

Live (`pipeline.live.LiveProcessor.process_visual`) fuses the findings of one batch from a stream's
visual actor with that stream's recent transcript (the last 120 s): face and voice findings that
arrive in different batches are not merged, and a cue transcribed after the appearance's finding
was reported does not reach it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from asr.types import Segment
from pipeline.findings import Finding

__all__ = ["FusionOptions", "IDENTITY_LABELS", "IDENTITY_CUE", "REAL_PERSON_CUE", "fuse", "entry_of",
           "modality_of", "identity_cues", "real_person_cues", "combine_scores"]

IDENTITY_LABELS = ("ai_impersonation", "ban_evasion")
SYNTHETIC_LABEL = "undisclosed_ai_content"
IDENTITY_CUE = "cue:identity-claim@1"
REAL_PERSON_CUE = "cue:real-person-claim@1"
MAX_EVIDENCE = 9000  # the service takes up to 10,000 characters
MAX_DECIDED_BY = 200


@dataclass(frozen=True)
class FusionOptions:
    max_gap_s: float = 5.0  # face and voice findings of one entry this close (or overlapping) are one appearance
    cue_gap_s: float = 5.0  # a transcript cue this close to an appearance (or inside it) counts
    cue_weight: float = 0.15  # added to the score by a cue
    score_cap: float = 0.99  # fused or cue-raised scores never reach certainty

    def __post_init__(self):
        if self.max_gap_s < 0 or self.cue_gap_s < 0 or not 0 <= self.cue_weight < 1 or not 0 < self.score_cap <= 1:
            raise ValueError(f"need gaps >= 0, 0 <= cue_weight < 1, 0 < score_cap <= 1; got {self}")


# --- what a finding is about -----------------------------------------------------------------------

_ENTRY = re.compile(r"(?:face|voice) matches (?:gallery entry|blacklisted streamer) "
                    r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")


def entry_of(f: Finding) -> str | None:
    """The gallery entry a face or voice finding names (its evidence quotes it with repr())."""
    m = _ENTRY.search(f.evidence)
    if not m:
        return None
    try:
        return ast.literal_eval(m.group(1))
    except (ValueError, SyntaxError):
        return None


def modality_of(f: Finding) -> str | None:
    """"face" or "voice" for a finding of the face or voice path, else None."""
    head = f.decided_by.split("+", 1)[0]
    return head.split(":", 1)[0] if head.startswith(("face:", "voice:")) else None


def _is_identity(f: Finding) -> bool:
    return f.label in IDENTITY_LABELS and modality_of(f) is not None and entry_of(f) is not None


def _is_seen_synthetic(f: Finding) -> bool:
    """`undisclosed_ai_content` decided by picture or voice (synthetic models, AI-label rule), not by words."""
    return f.label == SYNTHETIC_LABEL and ((not f.lang and not f.segment_text) or REAL_PERSON_CUE in f.decided_by)


def combine_scores(scores: Iterable[float], cap: float = 0.99) -> float:
    """1 - prod(1 - s): independent evidence for the same thing adds up, never past `cap`."""
    miss = 1.0
    for s in scores:
        miss *= 1.0 - min(max(float(s), 0.0), 1.0)
    return round(min(1.0 - miss, cap), 4)


# --- transcript cues -------------------------------------------------------------------------------

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_EN_LEAD = r"\b(?:i\s+am|i['’]m|my\s+name\s+is|my\s+name['’]s|this\s+is)\s*(?:the\s+real\s+|really\s+|actually\s+)?"
_ZH_LEAD = r"(?:我就是|我是|本人就是|本人是|本人|我叫|我的名字(?:是|叫))\s*(?:真正的|正宗的)?\s*"
_REAL_PERSON = re.compile(
    r"我(?:就)?是真人|真人(?:主播|直播|出镜)|(?:我|本人)(?:可|并|真的)?不是\s*(?:ai|数字人|虚拟人|虚拟主播|机器人|合成)"
    r"|\b(?:i\s+am|i['’]m)\s+(?:a\s+)?real\s+(?:person|human|woman|man)\b"
    r"|\b(?:i\s+am|i['’]m)\s+(?:not|no)\s+(?:an?\s+)?(?:ai|a\.i\.|robot|bot|digital\s+human|avatar|deepfake)\b",
    re.IGNORECASE)


def _name_pattern(name: str) -> re.Pattern | None:
    tokens = re.findall(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_]+", name)
    if not tokens:
        return None
    body = r"[\s\-·.・]*".join(re.escape(t) for t in tokens)
    # Not a possessive ("Li Ming's", 「李明的」), and a Latin name not the start of a longer word.
    tail = r"(?!的)" if _CJK.match(tokens[-1][-1]) else r"(?![^\W_]|['’]s\b)"
    return re.compile(rf"(?:{_EN_LEAD}|{_ZH_LEAD}){body}{tail}", re.IGNORECASE)


def _usable(segments: Iterable[Segment]) -> list[Segment]:
    return [s for s in segments if not s.hallucination and s.text]


def identity_cues(segments: Iterable[Segment], name: str) -> list[tuple[Segment, str]]:
    """(segment, the claiming words) for each segment in which the speaker claims to be `name`."""
    pat = _name_pattern(name)
    if pat is None:
        return []
    return [(s, m.group(0).strip()) for s in _usable(segments) if (m := pat.search(s.text))]


def real_person_cues(segments: Iterable[Segment]) -> list[tuple[Segment, str]]:
    """(segment, words) for each segment in which the speaker claims to be a real person, not an AI."""
    return [(s, m.group(0).strip()) for s in _usable(segments) if (m := _REAL_PERSON.search(s.text))]


def _near(cues: list[tuple[Segment, str]], t0: float, t1: float, gap: float) -> list[tuple[Segment, str]]:
    return [(s, w) for s, w in cues if s.t0 <= t1 + gap and s.t1 >= t0 - gap]


def _quote(cues: list[tuple[Segment, str]], limit: int = 3) -> str:
    return "; ".join(f"{s.text.strip()[:160]!r} at t={s.t0:.1f}-{s.t1:.1f} s" for s, _ in cues[:limit])


def _raise(f: Finding, cues: list[tuple[Segment, str]], what: str, cue_id: str, opts: FusionOptions) -> Finding:
    if cue_id in f.decided_by.split("+"):  # already weighed (a finding fused twice)
        return f
    score = round(max(f.score, min(f.score + opts.cue_weight, opts.score_cap)), 4)
    words = ", ".join(dict.fromkeys(repr(w) for _, w in cues[:3]))
    evidence = (f"{f.evidence} | host says {_quote(cues)}: {what} ({words}; "
                f"+{opts.cue_weight:g}: {f.score:.4g} -> {score:.4g})")
    first = cues[0][0]
    return replace(f, score=score, evidence=evidence[:MAX_EVIDENCE], decided_by=_join_ids(f.decided_by, cue_id),
                   segment_text=first.text, lang=first.lang, asr_model=first.model_id)


def _join_ids(*ids: str) -> str:
    parts = list(dict.fromkeys(p for i in ids for p in i.split("+") if p))
    return "+".join(parts)[:MAX_DECIDED_BY]


# --- the fusion ------------------------------------------------------------------------------------


def _gap(a: Finding, b: Finding) -> float:
    """Seconds between two spans; 0 when they overlap."""
    return max(0.0, max(a.t0, b.t0) - min(a.t1, b.t1))


def _groups(idx: list[int], findings: Sequence[Finding], opts: FusionOptions) -> list[list[int]]:
    """Connected components of face-voice links (same label and entry, within max_gap_s)."""
    parent = {i: i for i in idx}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    keyed = {i: (findings[i].label, entry_of(findings[i]), modality_of(findings[i])) for i in idx}
    for n, i in enumerate(idx):
        for j in idx[n + 1:]:
            (li, ei, mi), (lj, ej, mj) = keyed[i], keyed[j]
            if li == lj and ei == ej and mi != mj and _gap(findings[i], findings[j]) <= opts.max_gap_s:
                parent[root(j)] = root(i)
    out: dict[int, list[int]] = {}
    for i in idx:
        out.setdefault(root(i), []).append(i)
    return list(out.values())


def _merge(parts: list[Finding], opts: FusionOptions) -> Finding:
    if len(parts) == 1:
        return parts[0]
    parts = sorted(parts, key=lambda f: (modality_of(f) != "face", f.t0))
    faces = [f for f in parts if modality_of(f) == "face"]
    voices = [f for f in parts if modality_of(f) == "voice"]
    a, b = max(f.score for f in faces), max(f.score for f in voices)
    score = combine_scores([a, b], opts.score_cap)
    name = entry_of(parts[0])
    head = (f"face and voice match {name!r} in one appearance: score 1-(1-{a:.4g})(1-{b:.4g}) = {score:.4g}"
            + (f" (capped at {opts.score_cap:g})" if 1 - (1 - a) * (1 - b) > opts.score_cap else ""))
    evidence = " | ".join([head] + [f.evidence for f in parts])
    first = parts[0]
    return replace(first, t0=min(f.t0 for f in parts), t1=max(f.t1 for f in parts), score=score,
                   evidence=evidence[:MAX_EVIDENCE], decided_by=_join_ids(*(f.decided_by for f in parts)))


def fuse(findings: Sequence[Finding], segments: Iterable[Segment] = (),
         opts: FusionOptions = FusionOptions()) -> list[Finding]:
    """The findings of one recording or stream, with face and voice findings of one appearance made
    one, transcript cues and overlapping synthetic scores added (rules: the module docstring).
    Findings of other kinds pass through unchanged and in order."""
    findings = list(findings)
    segments = _usable(segments)
    identity = [i for i, f in enumerate(findings) if _is_identity(f)]
    synthetic = [f for f in findings if _is_seen_synthetic(f)]
    replaced: dict[int, Finding | None] = {}
    cue_cache: dict[str, list[tuple[Segment, str]]] = {}
    for group in _groups(identity, findings, opts):
        f = _merge([findings[i] for i in group], opts)
        name = entry_of(f)
        if name not in cue_cache:
            cue_cache[name] = identity_cues(segments, name)
        cues = _near(cue_cache[name], f.t0, f.t1, opts.cue_gap_s)
        if cues:
            f = _raise(f, cues, f"claims to be {name!r}", IDENTITY_CUE, opts)
        seen = [s for s in synthetic if _gap(s, f) == 0]
        if seen:
            notes = "; ".join(f"synthetic score {s.score:.2f} at t={s.t0:.1f}-{s.t1:.1f} s ({s.decided_by})"
                              for s in seen[:3])
            f = replace(f, evidence=f"{f.evidence} | {notes}, reported as its own {SYNTHETIC_LABEL} finding"
                        [:MAX_EVIDENCE])
        replaced[group[0]] = f
        for i in group[1:]:
            replaced[i] = None
    if synthetic and segments:
        real = real_person_cues(segments)
        for i, f in enumerate(findings):
            if _is_seen_synthetic(f) and (cues := _near(real, f.t0, f.t1, opts.cue_gap_s)):
                replaced[i] = _raise(f, cues, "claims to be a real person", REAL_PERSON_CUE, opts)
    out = []
    for i, f in enumerate(findings):
        if i in replaced:
            if replaced[i] is not None:
                out.append(replaced[i])
        else:
            out.append(f)
    return out
