import numpy as np
import pytest
from whisper.tokenizer import get_tokenizer

from asr.batch_decode import DecodeOptions, chunk_segments, decode_chunks, resume_point, split_segments
from asr.transcriber import AsrOptions, Transcriber
from ingest.decode import SAMPLE_RATE
from ingest.windows import Window

NO_FALLBACK = DecodeOptions(language="en", fallback_temperatures=())


@pytest.fixture(scope="module")
def tokenizer():
    return get_tokenizer(True, language="en", task="transcribe")


def _ts(tokenizer, seconds):
    return tokenizer.timestamp_begin + int(round(seconds / 0.02))


class AllSpeech:
    """A VAD that hears speech everywhere (the engine under test decides where words are)."""

    def spans(self, audio):
        return [(0, len(audio))]


def test_split_segments_cuts_at_timestamp_pairs(tokenizer):
    hello, world = tokenizer.encode(" hello there"), tokenizer.encode(" best tea")
    tokens = [_ts(tokenizer, 0.0), *hello, _ts(tokenizer, 1.5), _ts(tokenizer, 1.5), *world, _ts(tokenizer, 3.2)]
    segs = split_segments(tokens, tokenizer, duration=10.0)
    assert [(s.start, s.end, s.text) for s in segs] == [(0.0, 1.5, "hello there"), (1.5, 3.2, "best tea")]


def test_split_segments_open_end_and_no_timestamps(tokenizer):
    words = tokenizer.encode(" only fifty left")
    open_end = split_segments([_ts(tokenizer, 2.0), *words], tokenizer, duration=7.0)
    assert [(s.start, s.end) for s in open_end] == [(2.0, 7.0)]
    bare = split_segments(words, tokenizer, duration=4.0)
    assert [(s.start, s.end, s.text) for s in bare] == [(0.0, 4.0, "only fifty left")]
    # a timestamp past the chunk's end is clamped to it
    clamped = split_segments([_ts(tokenizer, 0.0), *words, _ts(tokenizer, 29.0)], tokenizer, duration=5.0)
    assert clamped[0].end == 5.0


def test_batched_decode_matches_one_by_one(tiny_whisper):
    rng = np.random.default_rng(1)
    chunks = [rng.normal(0, 0.1, int(s * SAMPLE_RATE)).astype(np.float32) for s in (3.0, 11.5, 29.0)]
    batched = decode_chunks(tiny_whisper.model, chunks, NO_FALLBACK)
    single = [decode_chunks(tiny_whisper.model, [c], NO_FALLBACK)[0] for c in chunks]
    assert len(batched) == 3
    for b, s in zip(batched, single):
        assert [x.text for x in b.segments] == [x.text for x in s.segments]
        assert b.avg_logprob == pytest.approx(s.avg_logprob, abs=1e-3)


def test_transcriber_keeps_order_and_streams_and_skips_silence(tiny_whisper):
    class EverythingIsSpeech:  # VAD stand-in: the tiny model's output is what is under test
        def spans(self, audio):
            return [] if not np.any(audio) else [(0, len(audio))]

    rng = np.random.default_rng(2)
    noise = lambda s: rng.normal(0, 0.1, int(s * SAMPLE_RATE)).astype(np.float32)  # noqa: E731
    windows = [Window("room-a", 0, 0.0, noise(5)), Window("room-b", 0, 100.0, noise(4)),
               Window("room-a", 1, 5.0, np.zeros(5 * SAMPLE_RATE, np.float32)), Window("room-b", 1, 104.0, noise(6))]
    t = Transcriber(tiny_whisper, AsrOptions(batch_size=2, decode=NO_FALLBACK), vad=EverythingIsSpeech())
    out = list(t.transcribe(windows))
    assert [(o.window.stream_id, o.window.index) for o in out] == [("room-a", 0), ("room-b", 0), ("room-a", 1),
                                                                  ("room-b", 1)]
    assert out[2].segments == [] and out[2].speech_s == 0
    for o in out:
        for seg in o.segments:
            assert seg.stream_id == o.window.stream_id
            assert o.window.t0 <= seg.t0 <= seg.t1 <= o.window.t1 + 1e-6
            assert seg.model_id == tiny_whisper.model_id


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="batch_size"):
        AsrOptions(batch_size=0)


def test_resume_point_follows_whisper_seek_rules(tokenizer):
    a, b = tokenizer.encode(" first words"), tokenizer.encode(" cut off")
    ts = lambda s: _ts(tokenizer, s)  # noqa: E731
    # ends on one timestamp after text: the chunk is done
    assert resume_point([ts(0), *a, ts(2.0)], tokenizer, 20.0) is None
    # ends on text after a timestamp pair: resume at the pair, drop the cut-off text
    tokens = [ts(0), *a, ts(2.0), ts(2.0), *b]
    assert resume_point(tokens, tokenizer, 20.0) == pytest.approx(2.0)
    segs, resume = chunk_segments(tokens, tokenizer, 20.0)
    assert [s.text for s in segs] == ["first words"] and resume == pytest.approx(2.0)
    # no timestamp pair at all: nothing to resume from
    assert resume_point([ts(0), *a], tokenizer, 20.0) is None


def test_transcriber_continues_where_whisper_stopped_short(tiny_whisper):
    from asr.batch_decode import ChunkResult, RawSegment

    class StopsAtFive:  # a stand-in engine that transcribes 5 s per call, then stops cleanly
        model_id, device = "stops-at-5", "cpu"

        def __init__(self):
            self.calls = []

        def decode(self, chunks, opts):
            self.calls.append([len(c) / SAMPLE_RATE for c in chunks])
            return [ChunkResult("en", [RawSegment(0.0, min(5.0, len(c) / SAMPLE_RATE), f"part{len(self.calls)}")],
                                -0.2, 0.0, 1.0, 0.0) for c in chunks]

    engine = StopsAtFive()
    rng = np.random.default_rng(3)
    window = Window("s", 0, 100.0, rng.normal(0, 0.1, 12 * SAMPLE_RATE).astype(np.float32))
    (wt,) = Transcriber(engine, AsrOptions(batch_size=4), vad=AllSpeech()).transcribe([window])
    assert [(s.t0, s.t1, s.text) for s in wt.segments] == [(100.0, 105.0, "part1"), (105.0, 110.0, "part2"),
                                                           (110.0, 112.0, "part3")]
    assert [round(x) for call in engine.calls for x in call] == [12, 7, 2]


def test_pack_chunks_fills_30_s_inputs_first_fit():
    from asr.transcriber import pack_chunks

    rng = np.random.default_rng(4)
    chunks = [(i, rng.normal(0, 0.1, int(s * SAMPLE_RATE)).astype(np.float32)) for i, s in enumerate([8, 8, 8, 20, 5])]
    packs = pack_chunks(chunks)
    assert [[m[0] for m in p.members] for p in packs] == [[0, 1, 2], [3, 4]]
    assert all(len(p.audio) <= 30 * SAMPLE_RATE for p in packs)
    for p in packs:
        for row, start, end in p.members:
            a, b = round(start * SAMPLE_RATE), round(end * SAMPLE_RATE)
            assert np.array_equal(p.audio[a:b], chunks[row][1])
        first_end = round(p.members[0][2] * SAMPLE_RATE)
        assert not p.audio[first_end:first_end + SAMPLE_RATE].any()  # 1 s of silence between chunks


def test_unpack_gives_each_chunk_its_segments_and_resume_point():
    from asr.batch_decode import ChunkResult, RawSegment
    from asr.transcriber import PackedInput, unpack_result

    pack = PackedInput(np.zeros(26 * SAMPLE_RATE, np.float32), [(7, 0.0, 8.0), (3, 9.0, 17.0), (5, 18.0, 26.0)])
    result = ChunkResult("zh", [RawSegment(0.5, 7.9, "a"), RawSegment(9.2, 16.8, "b"), RawSegment(17.2, 19.0, "c")],
                         -0.3, 0.01, 1.2, 0.0, resume_at=20.0)
    rows = {row: (r, resume) for row, r, resume in unpack_result(pack, result)}
    assert [(s.start, s.end, s.text) for s in rows[7][0].segments] == [(0.5, 7.9, "a")]
    assert [(round(s.start, 3), round(s.end, 3), s.text) for s in rows[3][0].segments] == [(0.2, 7.8, "b")]
    assert [(s.start, round(s.end, 3), s.text) for s in rows[5][0].segments] == [(0.0, 1.0, "c")]
    assert rows[7][1] is None and rows[3][1] is None  # decoded to their ends
    assert rows[5][1] == 2.0  # Whisper stopped 2 s into the last chunk: the rest is decoded again
    assert all(r.language == "zh" and r.resume_at is None for r, _ in rows.values())


def test_rests_of_several_windows_share_one_input():
    from asr.batch_decode import ChunkResult, RawSegment

    class StopsAtFive:
        model_id, device = "stops-at-5", "cpu"

        def __init__(self):
            self.calls = []

        def decode(self, chunks, opts):
            self.calls.append(([len(c) / SAMPLE_RATE for c in chunks], opts.language))
            return [ChunkResult("en", [RawSegment(0.0, min(5.0, len(c) / SAMPLE_RATE), f"part{len(self.calls)}")],
                                -0.2, 0.0, 1.0, 0.0) for c in chunks]

    engine = StopsAtFive()
    rng = np.random.default_rng(5)
    windows = [Window(s, 0, 0.0, rng.normal(0, 0.1, 12 * SAMPLE_RATE).astype(np.float32)) for s in ("a", "b")]
    first, _ = Transcriber(engine, AsrOptions(batch_size=4), vad=AllSpeech()).transcribe(windows)
    # round 1: both windows, language detected; round 2: both 7-s rests in one input (2 s of
    # silence between them), language kept
    assert [round(x) for x in engine.calls[0][0]] == [12, 12] and engine.calls[0][1] is None
    assert [round(x) for x in engine.calls[1][0]] == [16] and engine.calls[1][1] == "en"
    assert [(s.t0, s.t1, s.text) for s in first.segments][:2] == [(0.0, 5.0, "part1"), (5.0, 10.0, "part2")]


def test_a_segment_across_two_packed_chunks_is_tangled():
    from asr.batch_decode import ChunkResult, RawSegment
    from asr.transcriber import PackedInput, tangled

    pack = PackedInput(np.zeros(20 * SAMPLE_RATE, np.float32), [(0, 0.0, 8.0), (1, 10.0, 18.0)])
    clean = ChunkResult("en", [RawSegment(0.0, 8.2, "a"), RawSegment(9.8, 18.0, "b")], -0.2, 0.0, 1.0, 0.0)
    joined = ChunkResult("en", [RawSegment(0.0, 5.0, "a"), RawSegment(5.0, 12.0, "a b")], -0.2, 0.0, 1.0, 0.0)
    skipped = ChunkResult("en", [RawSegment(0.0, 8.0, "a"), RawSegment(18.5, 19.5, "c")], -0.2, 0.0, 1.0, 0.0)
    assert not tangled(pack, clean)
    assert tangled(pack, joined)
    assert tangled(PackedInput(pack.audio, [*pack.members, (2, 18.2, 20.0)]), skipped)  # chunk 1 got no words
