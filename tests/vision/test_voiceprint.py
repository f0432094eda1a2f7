"""Voice prints on real speakers with the real resemblyzer weights: the front end against librosa's
numbers, enrolment from one clip matched in another clip of the same speaker and in no other
speaker's, the calibrated threshold, speech turns and one finding per continuous voice."""

from __future__ import annotations

import numpy as np
import pytest

from asr.vad import SpeechDetector
from ingest.decode import SAMPLE_RATE
from liveguard.errors import ModelError
from pipeline.voices import (BAN_EVASION, IMPERSONATION, VoiceChecker, VoiceOptions, enrol_voice, speech_turns,
                             voice_findings)
from tests.utils.voices import f5_voice, halves, join, librivox, window, windows
from vision.errors import GalleryError, VoiceSampleError
from vision.gallery import Gallery
from vision.voiceprint import (MATCH_SIMILARITY, VOICE_DIM, VOICE_MODEL_ID, VoiceEncoder, mel_filterbank,
                               mel_spectrogram, partial_starts)

OTHER_SPEAKERS = ("f5-en", "f5-zh", "f5-main", "f5-town", "f5-country")


@pytest.fixture(scope="module")
def encoder():
    return VoiceEncoder()


@pytest.fixture(scope="module")
def vad():
    return SpeechDetector()


@pytest.fixture(scope="module")
def reader_gallery(encoder, vad):
    """The LibriVox reader, enrolled from one clip (sentence 0870) only."""
    g = Gallery()
    g.add("LibriVox Reader", voice_prints=enrol_voice(librivox("0870"), encoder, vad), authorised_accounts=["reader"])
    return g


def test_front_end_matches_librosa():
    fb = mel_filterbank()  # reference numbers: librosa 0.11 filters.mel(sr=16000, n_fft=400, n_mels=40)
    assert fb.shape == (40, 201)
    np.testing.assert_allclose(fb[0, :4], [0.0, 0.00739021, 0.01240452, 0.00501431], atol=1e-7)
    assert fb.max() == pytest.approx(0.013329955, rel=1e-5)
    assert fb[20].sum() == pytest.approx(0.025219752, rel=1e-5) and fb[39].sum() == pytest.approx(0.024978757, rel=1e-5)
    assert list(fb.argmax(axis=1)[[0, 10, 20, 39]]) == [2, 20, 44, 185]
    tone = np.sin(2 * np.pi * 1000 * np.arange(SAMPLE_RATE) / SAMPLE_RATE).astype(np.float32)
    mel = mel_spectrogram(tone)
    assert mel.shape == (1 + SAMPLE_RATE // 160, 40)
    peak_band = int(np.argmax(mel[50]))
    assert fb[peak_band, 25] > 0  # 1 kHz is FFT bin 25
    # partial utterances as resemblyzer cuts them (1.6 s every 77 frames, last kept at >= 75 % coverage)
    assert partial_starts(48_000) == [0, 77, 154]
    assert partial_starts(16_000) == [0] and partial_starts(100) == [0]


def test_prints_are_unit_256d_and_deterministic(encoder):
    clip = librivox("0880")
    a, b = encoder.embed(clip), encoder.embed_many([clip, clip[: len(clip) // 2]])
    assert a.shape == (VOICE_DIM,) and a.dtype == np.float32
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5) and (a >= 0).all()  # ReLU before the norm
    np.testing.assert_allclose(a, b[0], atol=1e-5)
    assert not np.allclose(b[0], b[1], atol=1e-3)


def test_weights_are_checked_against_the_registry(monkeypatch):
    import dataclasses

    from models.registry import REGISTRY
    from vision import voiceprint

    monkeypatch.setitem(REGISTRY, "resemblyzer", dataclasses.replace(REGISTRY["resemblyzer"], sha256="0" * 64))
    voiceprint._load_network.cache_clear()
    try:
        with pytest.raises(ModelError, match="sha256"):
            VoiceEncoder()
    finally:
        monkeypatch.undo()
        voiceprint._load_network.cache_clear()


def test_enrolled_voice_matches_another_clip_of_the_same_speaker(reader_gallery, encoder):
    # other sentences of the same reader, never seen at enrolment
    audio = join(librivox("0920"), 0.6, librivox("0890"))
    found = voice_findings([window(audio)], "cheap_goods_888", reader_gallery, source="rec.mp4", encoder=encoder)
    assert len(found) == 1, found  # one continuous voice, one finding
    f = found[0]
    assert f.label == IMPERSONATION and f.decided_by == f"voice:{VOICE_MODEL_ID}"
    assert "LibriVox Reader" in f.evidence and "cheap_goods_888" in f.evidence and "similarity" in f.evidence
    assert f.t0 < 0.5 and f.t1 > len(audio) / SAMPLE_RATE - 1.0 and f.score >= 0.5
    assert voice_findings([window(audio)], "Reader", reader_gallery, encoder=encoder) == []  # authorised


@pytest.mark.parametrize("speaker", OTHER_SPEAKERS)
def test_other_speakers_are_not_matched(reader_gallery, encoder, speaker):
    assert voice_findings([window(f5_voice(speaker))], "cheap_goods_888", reader_gallery, encoder=encoder) == []


def test_threshold_is_calibrated_on_real_speakers(encoder, vad):
    from liveguard.voice_calibration import calibrate_voice, format_calibration

    report = calibrate_voice(encoder=encoder, vad=vad)
    assert len({c[0] for c in report.clips}) == 7 and len(report.same) >= 30 and len(report.different) >= 200
    assert report.far(MATCH_SIMILARITY) == 0.0  # no stranger's speech turn reaches the threshold
    assert report.frr(MATCH_SIMILARITY) < 0.30  # most same-speaker turns do
    assert report.zero_far_threshold() <= MATCH_SIMILARITY  # the margin is on the safe side
    assert np.median(report.same) > np.percentile(report.different, 99)
    assert "<- in use" in format_calibration(report)


def test_speech_turns_follow_pauses_and_keep_times():
    spans = [(0, 16_000), (20_000, 60_000), (100_000, 110_000), (200_000, 280_000)]  # samples
    turns = speech_turns(np.ones(300_000, np.float32), 10.0, spans, VoiceOptions())
    # run 1: 1 s + 2.5 s (0.25 s pause) -> one 3.5 s turn (a 0.5 s tail joins it); run 2: 0.6 s -> none
    # (the 2.5 s pause ends the run); run 3: 5 s -> 3 s + 2 s
    assert [round(t.speech_s, 2) for t in turns] == [3.5, 3.0, 2.0]
    assert turns[0].t0 == 10.0 and turns[0].t1 == pytest.approx(10.0 + 60_000 / SAMPLE_RATE)
    assert turns[1].t0 == pytest.approx(10.0 + 200_000 / SAMPLE_RATE)


def test_one_voice_across_window_cuts_is_one_finding(encoder):
    town1, town2 = halves(f5_voice("f5-town"))
    g = Gallery()
    from pipeline.voices import speech_of

    g.add("Banned Seller", voice_prints=encoder.embed(speech_of(town1, SpeechDetector())), kind="blacklisted",
          authorised_accounts=["banned_shop_1"])
    # the other half of the banned streamer's clip, twice with a short pause, cut every 2.5 s mid-word
    audio = join(1.0, town2, 1.5, town2, 1.0)
    checker = VoiceChecker("live", "new_account_2", g, encoder)
    found = [f for w in windows(audio, 2.5) for f in checker.feed(w)] + checker.finish()
    assert [f.label for f in found] == [BAN_EVASION], found
    f = found[0]
    assert "Banned Seller" in f.evidence and "banned_shop_1" in f.evidence and "new_account_2" in f.evidence
    assert f.t0 == pytest.approx(1.0, abs=0.5) and f.t1 > len(audio) / SAMPLE_RATE - 2.5
    assert "ban" in f.legal_basis.lower() or "blacklist" in f.legal_basis.lower()
    # on the streamer's own (banned) account it is not evasion
    assert voice_findings(windows(audio, 2.5), "Banned_Shop_1", g, encoder=encoder) == []


def test_enrolment_needs_speech(encoder, vad):
    with pytest.raises(VoiceSampleError, match="speech"):
        enrol_voice(np.zeros(5 * SAMPLE_RATE, np.float32), encoder, vad, label="silence.wav")


def test_gallery_records_and_checks_the_voice_model(tmp_path):
    g = Gallery(tmp_path / "g.json")
    v = np.full(VOICE_DIM, 1 / np.sqrt(VOICE_DIM), np.float32)
    g.add("A", voice_prints=v)
    g.save()
    data = (tmp_path / "g.json").read_text()
    assert f'"voice_model": "{VOICE_MODEL_ID}"' in data
    assert len(Gallery.open(tmp_path / "g.json").get("A").voice_prints) == 1
    (tmp_path / "other.json").write_text(data.replace(VOICE_MODEL_ID, "ecapa@9"))
    with pytest.raises(GalleryError, match="ecapa@9"):
        Gallery.open(tmp_path / "other.json")
    with pytest.raises(GalleryError):
        g.add("B", voice_prints=v, voice_model="ecapa@9")
    with pytest.raises(GalleryError, match="256"):
        g.add("B", voice_prints=np.ones(192, np.float32))
