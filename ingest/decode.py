"""Decoding any FFmpeg-readable file into 16 kHz mono audio blocks and sampled video frames.

PyAV carries its own FFmpeg, so every container and codec that FFmpeg reads works here.
Damage inside a file (a bad packet, a broken frame) is counted and skipped so that the rest
of the recording is still checked; a file that cannot be opened at all raises MediaOpenError.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import av
import numpy as np

from liveguard.errors import MediaDecodeError, MediaOpenError, NoAudioStreamError, StreamReadError

__all__ = ["is_url", "PacketSink", "SAMPLE_RATE", "MediaInfo", "DecodeStats", "AudioBlock", "VideoFrame", "probe", "decode_media"]

SAMPLE_RATE = 16000  # Hz: what Whisper, Silero VAD and the voiceprint models expect
MAX_BAD_PACKETS = 1000  # past this many undecodable packets a file is declared broken
AUDIO_GAP_S = 0.05  # audio timestamps jumping ahead by more than this mean lost packets
SKIP_MAX_FPS = 5.0  # sampling at most this many frames a second: video frames no sample needs are not decoded
NONREF_MIN_FPS = 15.0  # sources with fewer frames a second decode every frame (a skipped one is a long step)
# when keyframes come steadily at least this share of the sampling rate (at 1 frame/s: at most 2 s apart), samples
# are taken from keyframes alone and nothing else is decoded (_KeyframeClock); 0: never
KEY_ONLY_SHARE = 0.5


@dataclass(frozen=True)
class MediaInfo:
    path: str
    duration_s: float | None  # from the container; None for streams that do not say
    format_name: str
    audio_codec: str | None
    video_codec: str | None
    width: int | None = None
    height: int | None = None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None


@dataclass
class DecodeStats:
    bad_packets: int = 0
    first_error: str | None = None
    audio_samples: int = 0
    video_frames: int = 0
    messages: list[str] = field(default_factory=list)

    def record(self, exc: Exception) -> None:
        self.bad_packets += 1
        if self.first_error is None:
            self.first_error = str(exc)


@dataclass(frozen=True)
class AudioBlock:
    t0: float  # stream time of the first sample, seconds
    samples: np.ndarray  # float32 mono at SAMPLE_RATE


@dataclass(frozen=True)
class VideoFrame:
    t: float
    image: np.ndarray  # uint8 RGB, H x W x 3


def is_url(source: str | Path) -> bool:
    return "://" in str(source)


class PacketSink(Protocol):
    def open(self, streams: list) -> None: ...
    def write(self, packet: av.Packet) -> None: ...
    def close(self) -> None: ...


def _open(path, open_timeout: float = 10.0, read_timeout: float = 10.0) -> av.container.InputContainer:
    if hasattr(path, "read"):  # a file object feeding a live input (ingest.hls.HlsReader)
        name = getattr(path, "url", "input")
        try:
            return av.open(path, mode="r", options={"probesize": "500000"})
        except av.error.FFmpegError as exc:
            raise MediaOpenError(f"{name}: cannot open stream ({exc.strerror or exc})") from exc
    if is_url(path):
        try:
            # PyAV's timeout covers connecting and every later read: a stalled stream raises
            # instead of hanging the reader forever.
            return av.open(str(path), mode="r", timeout=(open_timeout, read_timeout))
        except av.error.FFmpegError as exc:
            raise MediaOpenError(f"{path}: cannot open stream ({exc.strerror or exc})") from exc
    p = Path(path)
    if not p.exists():
        raise MediaOpenError(f"{path}: no such file")
    if p.is_dir():
        raise MediaOpenError(f"{path}: is a directory")
    try:
        return av.open(str(p), mode="r", timeout=10.0)
    except av.error.FFmpegError as exc:
        raise MediaOpenError(f"{path}: not a readable media file ({exc.strerror or exc})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise MediaOpenError(f"{path}: cannot open ({exc})") from exc


def _info(path: str | Path, container) -> MediaInfo:
    audio = container.streams.audio[0] if container.streams.audio else None
    video = container.streams.video[0] if container.streams.video else None
    for kind, stream in (("audio", audio), ("video", video)):
        if stream is not None and stream.codec_context is None:  # e.g. 36-bit PCM in a WAV: no decoder
            raise MediaOpenError(f"{path}: its {kind} codec is not one FFmpeg can decode")
    duration = container.duration / av.time_base if container.duration else None
    return MediaInfo(
        path=str(path),
        duration_s=duration,
        format_name=container.format.name,
        audio_codec=audio.codec_context.name if audio is not None else None,
        video_codec=video.codec_context.name if video is not None else None,
        width=video.codec_context.width if video is not None else None,
        height=video.codec_context.height if video is not None else None,
    )


def probe(path: str | Path) -> MediaInfo:
    """Open, describe, close. Raises MediaOpenError for anything that is not media."""
    container = _open(path)
    try:
        return _info(path, container)
    finally:
        container.close()


def _pcm_to_float(frame) -> np.ndarray:
    """Resampled s16 mono frame -> float32 samples in [-1, 1)."""
    return frame.to_ndarray().reshape(-1).astype(np.float32) / 32768.0


def _scaled_size(width: int, height: int, max_height: int) -> tuple[int, int]:
    if height <= max_height:
        return width, height
    scale = max_height / height
    return max(2, int(width * scale) // 2 * 2), max_height


def _demux(container, streams, path) -> Iterator[av.Packet]:
    """container.demux, with read failures (dropped connection, timeout, I/O error) wrapped."""
    packets = container.demux(*streams)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError as exc:
            raise StreamReadError(f"{path}: read failed ({exc.strerror or exc})") from exc
        yield packet


class _KeyframeClock:
    """Skips decoding the video packets between a sample and the next keyframe when the next
    sample is not due before that keyframe: at 1 frame/s of a 25 fps stream with a keyframe every
    2 s, half the frames are not decoded (with NONREF skipping, about 1 in 6 is).

    Only once keyframes have come at a steady interval twice running (a predictable GOP); an
    irregular stream is decoded frame by frame. A keyframe later than predicted delays that one
    sample to it.

    *Keyframes only*: when that steady interval is short enough that keyframes alone give at least
    `key_share` of the sampling rate (at 1 frame/s and 0.5: a keyframe at least every 2 s, as live
    encoders send), no other packet is decoded at all, and a keyframe is decoded only when a sample
    is due at it: every sample is the keyframe at or after its slot, so samples come at the keyframe
    rate (a 2-s GOP: one every 2 s; a 1-s GOP: every second). An I-frame costs ~10x a P-frame to
    decode but is needed either way; what goes is the P-frames up to the odd-second samples. A
    longer or irregular GOP (a recording with a keyframe every 10 s, scene cuts) keeps the path
    above, at `frame_fps`."""

    def __init__(self, start: float, fps: float = 1.0, key_share: float = KEY_ONLY_SHARE):
        self.start = start
        self.fps, self.key_share = fps, key_share
        self.keys: list[float] = []  # stream times of the last keyframe packets
        self.next_sample: float | None = None
        self.skipping = False
        self.key_only = False

    def _interval(self) -> float | None:
        if len(self.keys) < 3:
            return None
        a, b = self.keys[-2] - self.keys[-3], self.keys[-1] - self.keys[-2]
        return b if a > 0 and abs(a - b) <= 0.1 * b else None

    def skip(self, packet, next_sample: float) -> bool:
        """Whether to leave this video packet undecoded (`next_sample`: when the next sample is due)."""
        if not packet.size:
            return False  # the decoder's flush at the end: the frames it still holds are due
        if packet.is_keyframe and packet.pts is not None and packet.time_base is not None:
            t = float(packet.pts * packet.time_base) - self.start
            self.keys = self.keys[-2:] + [t]
            self.skipping = False
            gop = self._interval()
            self.key_only = gop is not None and self.key_share > 0 and 1.0 / gop >= self.key_share * self.fps - 1e-6
            # keyframes only: one before its sample is due is not needed either (a GOP under 1/fps)
            return self.key_only and t < next_sample - 1e-3
        return self.key_only or self.skipping

    def sampled(self, next_sample: float) -> None:
        """A frame was sampled; the next one is due at `next_sample`."""
        gop = self._interval()
        self.skipping = gop is not None and self.keys[-1] + gop <= next_sample + 1e-3


def _frame_time(frame, stream) -> float | None:
    """A decoded frame's stream time (frames drained from the decoder carry pts without a time base)."""
    if frame.time is not None and frame.time == frame.time:
        return frame.time
    return float(frame.pts * stream.time_base) if frame.pts is not None and stream.time_base is not None else None


def decode_media(
    path: str | Path,
    frame_fps: float = 1.0,
    frame_height: int = 360,
    stats: DecodeStats | None = None,
    packet_sink: PacketSink | None = None,
    read_timeout: float = 10.0,
    key_share: float = KEY_ONLY_SHARE,
) -> Iterator[AudioBlock | VideoFrame]:
    """Yield audio blocks and sampled frames in decode order, with stream times in seconds.

    `path` is a file or a URL FFmpeg can read (rtmp://, http(s)://...flv, .m3u8, rtsp://), or a
    readable file object (live HLS segments, ingest.hls.HlsReader).
    Stream time 0 is the container's start. `frame_fps <= 0` skips video decoding.
    `packet_sink`, when given, is opened with the input streams and receives every demuxed packet
    (the rolling recorder remuxes them without re-encoding); it is closed when decoding stops.
    Sampling at most SKIP_MAX_FPS, only the packets a sample needs are decoded; with keyframes at
    least `key_share` x `frame_fps` a second, only keyframes (`_KeyframeClock`; 0: never).
    Raises MediaOpenError / NoAudioStreamError before yielding anything when the input is unusable,
    and StreamReadError when reading fails part-way.
    """
    stats = stats if stats is not None else DecodeStats()
    container = _open(path, read_timeout=read_timeout)
    path = getattr(path, "url", path)  # a file object is named by its URL in messages
    try:
        info = _info(path, container)
        if not info.has_audio:
            raise NoAudioStreamError(f"{path}: no audio stream, nothing to transcribe")
        audio_stream = container.streams.audio[0]
        streams = [audio_stream]
        video_stream = None
        if info.has_video and (frame_fps > 0 or packet_sink is not None):
            video_stream = container.streams.video[0]
            video_stream.thread_type = "AUTO"
            rate = float(video_stream.average_rate or 0)
            if 0 < frame_fps <= SKIP_MAX_FPS and rate >= NONREF_MIN_FPS:
                # frames no other frame refers to (most B-frames) are never needed to reach a sample; a
                # sample then lands on the next reference frame, at most a few source frames late
                video_stream.codec_context.skip_frame = "NONREF"
            streams.append(video_stream)
        if packet_sink is not None:
            packet_sink.open(streams)
        start = container.start_time / av.time_base if container.start_time else 0.0
        # s16 output makes libswresample normalise its downmix matrix (for float output it does not,
        # and stereo -> mono then sums L and R at +3 dB, pushing full-scale audio past +-1).
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        next_frame_t = 0.0
        gop = _KeyframeClock(start, frame_fps, key_share) if 0 < frame_fps <= SKIP_MAX_FPS else None
        audio_t: float | None = None  # stream time of the next resampled sample
        audio_in_t: float | None = None  # stream time just past the last decoded audio frame
        for packet in _demux(container, streams, path):
            frames = []
            skip = False
            if packet.stream is video_stream and gop is not None:
                skip = gop.skip(packet, next_frame_t)
            if not skip and (packet.stream is audio_stream or frame_fps > 0):
                try:
                    frames = packet.decode()
                    if gop is not None and gop.key_only and packet.stream is video_stream and packet.size:
                        # a keyframe decoded alone: its picture now, not a few keyframes later from the
                        # decoder's frame threads (windows wait only LATE_FRAME_S for their frames)
                        frames = list(frames) + list(video_stream.codec_context.decode(None))
                        video_stream.codec_context.flush_buffers()
                except av.error.FFmpegError as exc:
                    stats.record(exc)
                    if stats.bad_packets > MAX_BAD_PACKETS:
                        raise MediaDecodeError(f"{path}: more than {MAX_BAD_PACKETS} undecodable packets "
                                               f"(first: {stats.first_error})") from exc
            # after decoding: muxing rewrites the packet's timestamps in place
            if packet_sink is not None and packet.size:
                packet_sink.write(packet)
            for frame in frames:
                if packet.stream is audio_stream:
                    frame_t = frame.time - start if frame.time is not None else audio_in_t
                    if audio_t is None:
                        audio_t = max(0.0, frame_t or 0.0)
                    elif frame_t is not None and audio_in_t is not None and frame_t - audio_in_t > AUDIO_GAP_S:
                        # packets were lost (damage, truncation): move on to the frame's true time so the
                        # blocks stay on stream time; cut_windows fills the hole with silence
                        audio_t += frame_t - audio_in_t
                    audio_in_t = (frame_t if frame_t is not None else audio_t) + frame.samples / frame.sample_rate
                    for out in resampler.resample(frame):
                        block = _pcm_to_float(out)
                        yield AudioBlock(audio_t, block)
                        audio_t += len(block) / SAMPLE_RATE
                        stats.audio_samples += len(block)
                elif (ft := _frame_time(frame, video_stream)) is not None and ft - start >= next_frame_t:
                    t = ft - start
                    w, h = _scaled_size(frame.width, frame.height, frame_height)
                    yield VideoFrame(t, frame.to_ndarray(format="rgb24", width=w, height=h))
                    stats.video_frames += 1
                    # next slot on a fixed grid of 1/frame_fps: stepping from `t` would drift by the
                    # source frame period each time and keep fewer frames than asked for
                    next_frame_t = (math.floor(t * frame_fps + 1e-6) + 1) / frame_fps
                    if gop is not None:
                        gop.sampled(next_frame_t)
        for out in resampler.resample(None):  # flush the resampler's tail
            block = _pcm_to_float(out)
            yield AudioBlock(audio_t or 0.0, block)
            audio_t = (audio_t or 0.0) + len(block) / SAMPLE_RATE
            stats.audio_samples += len(block)
        if stats.audio_samples == 0:
            raise MediaDecodeError(f"{path}: the audio stream decoded to nothing"
                                   + (f" ({stats.first_error})" if stats.first_error else ""))
    finally:
        if packet_sink is not None:
            packet_sink.close()
        container.close()
