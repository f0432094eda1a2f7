"""The real default model (Whisper base, from the pip packages) on real speech."""

import numpy as np
import pytest

from asr import AsrOptions, Transcriber, load_whisper
from asr.chinese import to_simplified
from asr.metrics import cer, wer
from ingest.decode import SAMPLE_RATE
from ingest.windows import Window
from liveguard.bench_asr import TESTDATA, reference_clips


def _transcribe(transcriber, clips):
    windows = [Window(c.name, 0, 0.0, c.audio) for c in clips]
    return [" ".join(s.text for s in wt.segments) for wt in transcriber.transcribe(windows)]


@pytest.fixture(scope="module", params=["torch", "ct2"])
def engine_transcriber(request, base_whisper):
    """Both engines on the same registry weights: openai-whisper (PyTorch) and CTranslate2 int8."""
    loaded = base_whisper if request.param == "torch" else load_whisper("whisper-base", "cpu", engine="ct2")
    return Transcriber(loaded, AsrOptions(batch_size=4))


def test_librivox_wer_within_15_percent(engine_transcriber):
    clips = [c for c in reference_clips() if c.name.startswith("sense_and_sensibility")]
    assert len(clips) == 5, "pocketsphinx-testdata LibriVox clips missing: run scripts/setup.sh"
    hyps = _transcribe(engine_transcriber, clips)
    score = wer([c.reference for c in clips], hyps)
    assert score <= 0.15, f"WER {score:.1%}: {hyps}"


def test_mandarin_clip_is_detected_as_zh_and_simplified(engine_transcriber):
    clips = [c for c in reference_clips() if c.name == "basic_ref_zh.wav"]
    assert clips, f"Mandarin test clip missing from {TESTDATA}: run scripts/setup.sh"
    (result,) = engine_transcriber.transcribe([Window("zh", 0, 0.0, clips[0].audio)])
    text = "".join(s.text for s in result.segments)
    assert {s.lang for s in result.segments} == {"zh"}
    assert to_simplified(text) == text
    assert cer([clips[0].reference], [text]) <= 0.3, text


def test_silence_with_noise_yields_no_usable_text(base_transcriber):
    rng = np.random.default_rng(0)
    hiss = rng.normal(0, 0.003, 25 * SAMPLE_RATE).astype(np.float32)
    (result,) = base_transcriber.transcribe([Window("quiet", 0, 0.0, hiss)])
    assert [s for s in result.segments if not s.hallucination] == []


@pytest.fixture(scope="module")
def ct2_whisper():
    return load_whisper("whisper-base", "cpu", engine="ct2")


def test_short_windows_of_many_streams_share_inputs_and_keep_their_own_words(ct2_whisper):
    """Packing: short windows of different streams go through Whisper together, and each stream
    gets back exactly its own words, at its own times, in the right language."""
    clips = {c.name: c for c in reference_clips()}
    en = [clips[n] for n in sorted(clips) if n.startswith("sense_and_sensibility")][:3]
    zh = clips["basic_ref_zh.wav"]
    calls = []
    real = ct2_whisper.decode_packed

    def spy(packs, opts):
        results = real(packs, opts)
        calls.append([(len(p.members), r is not None) for p, r in zip(packs, results)])
        return results

    ct2_whisper.decode_packed = spy
    transcriber = Transcriber(ct2_whisper, AsrOptions(batch_size=8))
    try:
        for group in (en, [*en, zh]):
            calls.clear()
            windows = [Window(f"room{i}", 0, 100.0 * i, c.audio) for i, c in enumerate(group)]
            results = list(transcriber.transcribe(windows))
            # English only: one shared input; with the Mandarin clip: refused, decoded apart
            assert calls[0] == ([(3, True)] if group is en else [(4, False)]), calls
            for i, (clip, wt) in enumerate(zip(group, results)):
                text = " ".join(s.text for s in wt.segments)
                assert {s.stream_id for s in wt.segments} == {f"room{i}"}
                assert all(100.0 * i <= s.t0 < s.t1 <= 100.0 * i + clip.seconds + 0.5 for s in wt.segments)
                if clip.lang == "en":
                    assert wer([clip.reference], [text]) <= 0.2, (clip.reference, text)
                else:
                    assert {s.lang for s in wt.segments} == {"zh"} and cer([clip.reference], [text]) <= 0.3, text
    finally:
        del ct2_whisper.decode_packed


def test_an_input_is_refused_when_its_chunks_disagree_on_language():
    from asr.ct2_engine import pack_language

    en, zh, unsure = {"en": 0.97, "zh": 0.02}, {"zh": 0.95, "en": 0.03}, {"cy": 0.45, "en": 0.4}
    assert pack_language([en, en], [5, 3]) == "en"
    assert pack_language([en, unsure], [5, 1]) == "en"  # a short unsure chunk follows the others
    assert pack_language([en, zh], [5, 5]) is None
    assert pack_language([zh, zh, unsure], [3, 3, 1]) == "zh"


def test_full_windows_are_transcribed_to_their_end_in_one_encoder_pass(ct2_whisper):
    """Whisper base stops short on some ~26-s windows of real speech (it opens a segment and ends,
    expecting the words to run past its 30 s). The engine continues from the same encoder output,
    prompted with what it wrote: every word, and no second encoder pass over the rest."""
    from liveguard.bench_asr import pack_clips

    windows = pack_clips(reference_clips(), 5)
    rows = []
    real = ct2_whisper._encode_cpu

    def spy(chunks):
        rows.append(len(chunks))
        return real(chunks)

    ct2_whisper._encode_cpu = spy
    try:
        results = list(Transcriber(ct2_whisper, AsrOptions(batch_size=8)).transcribe(
            Window(f"room{i}", 0, 0.0, w.audio) for i, w in enumerate(windows)))
    finally:
        del ct2_whisper._encode_cpu
    assert sum(rows) == len(windows), rows
    for w, wt in zip(windows, results):
        text = " ".join(s.text for s in wt.segments)
        assert wer([w.reference], [text]) <= 0.15, (w.reference, text)
        assert wt.segments[-1].t1 >= w.seconds - 3.0, (w.seconds, wt.segments[-1])


def _recording(n: int):
    """`n` English reference clips (in turn, from the first) end to end with 1.8-s pauses, cut into
    scan's windows: (windows, each clip's (start, end) s, the reference text)."""
    from ingest.decode import AudioBlock
    from ingest.windows import WindowOptions, cut_windows

    en = [c for c in reference_clips() if c.lang == "en"]
    clips = [en[k % len(en)] for k in range(n)]
    pause = np.zeros(int(1.8 * SAMPLE_RATE), np.float32)
    audio, spans, t = [], [], 0.0
    for clip in clips:
        audio += [clip.audio, pause]
        spans.append((t, t + clip.seconds))
        t += clip.seconds + len(pause) / SAMPLE_RATE
    windows = list(cut_windows([AudioBlock(0.0, np.concatenate(audio))], "rec", WindowOptions(frame_fps=0)))
    return windows, spans, " ".join(c.reference for c in clips)


def test_joined_windows_of_a_recording_need_fewer_encoder_passes_and_keep_words_and_times(ct2_whisper):
    """scan's mode: consecutive windows of one recording share 30-s inputs (asr.joining). On ~80 s
    of real speech with pauses, fewer encoder passes than one per window, WER within 2 points of
    one input per window, and every segment inside the clip it transcribes."""
    windows, spans, reference = _recording(10)
    rows, texts, timed = {}, {}, {}
    real = ct2_whisper._encode_cpu
    # joined inputs are encoded as each becomes final, while the batch fills ("ahead"), or all at once
    for join, ahead in ((False, True), (True, False), (True, True)):
        rows[join, ahead] = []
        ct2_whisper._encode_cpu = lambda chunks, _rows=rows[join, ahead]: (_rows.append(len(chunks)), real(chunks))[1]
        if not ahead:
            ct2_whisper.encode_ahead = None
        try:
            out = list(Transcriber(ct2_whisper, AsrOptions(batch_size=8, join=join)).transcribe(windows))
        finally:
            del ct2_whisper._encode_cpu
            ct2_whisper.__dict__.pop("encode_ahead", None)
        assert [wt.window.index for wt in out] == [w.index for w in windows]
        segs = [s for wt in out for s in wt.segments]
        texts[join, ahead] = " ".join(s.text for s in segs)
        timed[join, ahead] = [(s.t0, s.t1, s.text) for s in segs]
        for s in segs:  # each segment lies within (a little around) the speech of the clips it covers
            assert any(a - 1.0 <= s.t0 and s.t0 <= b for a, b in spans), s
            assert any(a <= s.t1 and s.t1 <= b + 1.0 for a, b in spans), s
    assert sum(rows[True, True]) < sum(rows[False, True]), rows
    assert wer([reference], [texts[True, True]]) <= wer([reference], [texts[False, True]]) + 0.02, texts
    # encoding ahead changes when the encoder runs, not what it hears, nor how often it runs
    assert timed[True, True] == timed[True, False]
    assert sum(rows[True, True]) == sum(rows[True, False]), rows
    assert any(n == 1 for n in rows[True, True]) and max(rows[True, False]) > 1, rows


def test_overlapped_decoding_gives_the_sequential_transcript(ct2_whisper):
    """scan's overlap: each batch decodes in a helper thread while the next is read and encoded
    ahead on the other replica. Batches of one input, so that several are in flight: the same
    segments, times and languages as one thing at a time, from the same number of encoder rows."""
    import threading

    from asr import DecodeOptions

    windows, _, _ = _recording(30)  # ~2.7 min, ~5 inputs
    real_encode, real_generate = ct2_whisper._encode_cpu, ct2_whisper._generate
    timed, rows, threads = {}, {}, {}
    for overlap in (False, True):
        rows[overlap], threads[overlap] = [], set()
        ct2_whisper._encode_cpu = lambda chunks, _rows=rows[overlap]: (_rows.append(len(chunks)),
                                                                       real_encode(chunks))[1]
        ct2_whisper._generate = lambda *a, _t=threads[overlap]: (_t.add(threading.current_thread().name),
                                                                 real_generate(*a))[1]
        opts = AsrOptions(batch_size=1, join=True, prefetch=4 if overlap else 0, overlap=overlap,
                          decode=DecodeOptions(spread=overlap))
        try:
            out = list(Transcriber(ct2_whisper, opts).transcribe(windows))
        finally:
            del ct2_whisper._encode_cpu, ct2_whisper._generate
        assert [wt.window.index for wt in out] == [w.index for w in windows]
        timed[overlap] = [[(s.t0, s.t1, s.text, s.lang, s.avg_logprob) for s in wt.segments] for wt in out]
    assert sum(rows[True]) > 3 and sum(rows[True]) == sum(rows[False]), rows
    assert timed[True] == timed[False]
    assert any(name.startswith("asr-decode") for name in threads[True]), threads  # decoded beside the reading
    assert threads[False] == {"MainThread"}


def test_a_pass_spread_over_the_replicas_gives_each_row_the_same_result(ct2_whisper):
    """DecodeOptions.spread: with nothing encoding ahead, a batch's greedy pass is split over the
    engine's replicas (CT2Whisper._first_pass). Every row comes out as from the one batch."""
    import threading

    from asr import DecodeOptions

    windows, _, _ = _recording(20)
    chunks = [w.audio[: 28 * SAMPLE_RATE] for w in windows][:4]
    real_generate = ct2_whisper._generate
    results, threads = {}, {}
    for spread in (False, True):
        threads[spread] = set()
        ct2_whisper._generate = lambda *a, _t=threads[spread]: (_t.add(threading.current_thread().name),
                                                                real_generate(*a))[1]
        try:
            results[spread] = ct2_whisper.decode(chunks, DecodeOptions(spread=spread))
        finally:
            del ct2_whisper._generate
    assert results[True] == results[False]
    assert threads[False] == {"MainThread"}
    if ct2_whisper._replicas > 1:
        assert any(name.startswith("ct2-encode") for name in threads[True]), threads


def test_loading_the_ct2_engine_leaves_torch_on_all_its_threads():
    """CTranslate2 runs single-threaded replicas on the CPU and sets the OpenMP thread count it
    shares with PyTorch; the claims model and the mel spectrograms must keep every core."""
    import subprocess
    import sys

    code = ("import torch; torch.set_num_threads(2); from asr import load_whisper; "
            "load_whisper('whisper-base', 'cpu', engine='ct2'); print(torch.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "2"
