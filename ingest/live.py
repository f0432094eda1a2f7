"""Live sources: RTMP, HTTP-FLV, HLS, RTSP (anything FFmpeg pulls), and files played in real time.

A live source never gives up on the first problem. A dropped connection, a stall past the read
timeout or an end of stream leads to a reconnect with exponential backoff; stream time keeps
running with the wall clock across the hole, so it stays monotonic and true, and the hole is
recorded as a Gap. A source unreachable for longer than `give_up_after_s` (or a file that has
played to its end) ends with a reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ingest.decode import AudioBlock, DecodeStats, VideoFrame, decode_media, is_url
from ingest.hls import HlsCursor, HlsReader, is_hls
from ingest.recorder import StreamRecorder, Timeline
from ingest.windows import StreamBreak
from liveguard.errors import MediaError, NoAudioStreamError

__all__ = ["LiveOptions", "Gap", "LiveStatus", "LiveSource"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveOptions:
    read_timeout_s: float = 5.0  # no data for this long counts as a drop
    backoff_initial_s: float = 0.5  # first wait before reconnecting; doubles each failure
    backoff_max_s: float = 8.0
    give_up_after_s: float = 60.0  # unreachable this long: the stream is reported as ended
    realtime: bool | None = None  # pace at 1x; None: only for files (live sources pace themselves)
    frame_fps: float = 1.0
    frame_height: int = 1080  # as ingest.windows.WindowOptions: faces are found in source pixels
    hls_start_segments: int = 3  # live HLS joined this many segments behind the live edge (players use ~3)

    def __post_init__(self):
        if self.read_timeout_s <= 0 or self.backoff_initial_s <= 0 or self.give_up_after_s <= 0:
            raise ValueError("read_timeout_s, backoff_initial_s and give_up_after_s must be > 0")


@dataclass(frozen=True)
class Gap:
    t0: float  # stream time the source stopped delivering
    t1: float  # stream time it delivered again
    reason: str


@dataclass
class LiveStatus:
    connected: bool = False
    connects: int = 0
    reconnects: int = 0
    gaps: list[Gap] = field(default_factory=list)
    ended: bool = False
    ended_reason: str | None = None
    last_error: str | None = None
    bad_packets: int = 0
    stream_t: float = 0.0  # stream time of the newest item delivered
    give_up_at: float | None = None  # wall clock at which a failing stream will be ended
    failures: int = 0  # failed connection attempts in a row
    delivered_any: bool = False  # the source has ever delivered (never: a dead input)


class LiveSource:
    """Iterate `items()` for audio blocks and frames on one continuous, monotonic stream time."""

    def __init__(self, url: str, opts: LiveOptions = LiveOptions(),
                 recorder: StreamRecorder | None = None,
                 clock: Callable[[], float] = time.time, stop: threading.Event | None = None,
                 resume: tuple[float, float] | None = None, hls_next_seq: int | None = None):
        """`resume=(start_wall, stream_t)` continues the stream time of an earlier reader of the same
        stream (an ingest worker that was restarted), instead of starting again at 0; for live HLS,
        `hls_next_seq` is the media sequence number to go on from (nothing is read twice)."""
        self.url = url
        self.opts = opts
        self.status = LiveStatus()
        self.recorder = recorder
        self.clock = clock
        self.stop = stop or threading.Event()
        self._realtime = opts.realtime if opts.realtime is not None else not is_url(url)
        self.start_wall = resume[0] if resume else None  # wall clock at stream time 0
        if resume:
            self.status.stream_t = resume[1]
            # it delivered before the restart: failures now are gaps, and a stall is an end, not a dead URL
            self.status.delivered_any = True
        self.hls = HlsCursor(next_seq=hls_next_seq) if is_hls(url) else None
        self._reader: HlsReader | None = None

    def _session(self, offset: float, wall0: float) -> Iterator[AudioBlock | VideoFrame]:
        """One connection's items, shifted onto stream time (and paced when realtime)."""
        stats = DecodeStats()
        timeline = Timeline(offset)
        sink = self.recorder.sink(timeline) if self.recorder is not None else None
        source = self.url
        if self.hls is not None:  # segments read by us, by sequence number: never twice
            source = self._reader = HlsReader(self.url, self.hls, self.opts.read_timeout_s,
                                              stall_s=self.opts.give_up_after_s, clock=self.clock, stop=self.stop,
                                              live_edge_segments=self.opts.hls_start_segments)
        try:
            for item in decode_media(source, self.opts.frame_fps, self.opts.frame_height, stats,
                                     packet_sink=sink, read_timeout=self.opts.read_timeout_s):
                if self.stop.is_set():
                    return
                t = timeline(_item_t(item))
                if self._realtime:
                    ahead = wall0 + (t - offset) - self.clock()
                    if ahead > 0:
                        self.stop.wait(ahead)
                self.status.connected = True
                self.status.stream_t = max(self.status.stream_t, t)
                yield AudioBlock(t, item.samples) if isinstance(item, AudioBlock) else VideoFrame(t, item.image)
        finally:
            self.status.bad_packets += stats.bad_packets
            if sink is not None:
                sink.close()

    def items(self) -> Iterator[AudioBlock | VideoFrame | StreamBreak]:
        if self.start_wall is None:
            self.start_wall = self.clock()
        start = self.start_wall
        backoff = self.opts.backoff_initial_s
        down_since: float | None = None  # wall time of the first failure in a row
        resume_t = self.status.stream_t > 0
        # a restarted reader: the time it was down is a hole in the stream like any drop
        gap_t0: float | None = self.status.stream_t if resume_t else None  # stream time the current hole began
        if resume_t:
            self.status.last_error = "monitor restarted"
        while not self.stop.is_set():
            wall0 = self.clock()
            # Stream time follows the wall clock across a drop, and never goes back.
            offset = max(wall0 - start, self.status.stream_t) if self.status.connects or resume_t else 0.0
            self.status.connects += 1
            delivered, reason = False, "end of stream"
            try:
                for item in self._session(offset, wall0):
                    if not delivered:
                        delivered = True
                        if gap_t0 is not None and self.status.delivered_any:  # failures before any data are no gap
                            self.status.reconnects += 1
                            self.status.gaps.append(Gap(gap_t0, _item_t(item), self.status.last_error or "dropped"))
                        down_since, gap_t0, backoff = None, None, self.opts.backoff_initial_s
                        self.status.delivered_any = True
                        self.status.give_up_at = None
                        self.status.failures = 0
                    yield item
            except NoAudioStreamError as exc:
                self._end(str(exc))
                return
            except MediaError as exc:
                reason = str(exc)
            self.status.connected = False
            if self.stop.is_set():
                break
            if not is_url(self.url):  # a file played live ends at its end; nothing to reconnect to
                self._end("end of file" if delivered else reason)
                return
            hls_outcome = self._reader.outcome if self._reader is not None else None
            if hls_outcome is not None and hls_outcome.startswith("end of stream"):
                self._end(hls_outcome)
                return
            if hls_outcome == "stalled":
                self.status.last_error = reason
                self._end(reason if "stalled" in reason else f"stalled: {reason}")
                return
            if hls_outcome == "discontinuity" and delivered:
                continue  # a new timeline at once: not a failure, no wait
            if hls_outcome == "no new segment":
                reason = f"no new HLS segment for {self.opts.read_timeout_s:.0f} s"
            self.status.last_error = reason
            if delivered:
                yield StreamBreak(self.status.stream_t)  # what was heard before the drop is checked now
            now = self.clock()
            down_since = now if down_since is None or delivered else down_since
            self.status.failures = 1 if delivered else self.status.failures + 1
            self.status.give_up_at = down_since + self.opts.give_up_after_s
            gap_t0 = self.status.stream_t if gap_t0 is None else gap_t0
            if now - down_since >= self.opts.give_up_after_s:
                self._end(f"unreachable for {now - down_since:.0f} s: {reason}")
                return
            log.warning("%s; reconnecting in %.1f s", reason, backoff)
            self.stop.wait(backoff)
            backoff = min(backoff * 2, self.opts.backoff_max_s)
        self._end("stopped")

    def _end(self, reason: str) -> None:
        self.status.connected = False
        self.status.ended = True
        self.status.ended_reason = reason


def _item_t(item: AudioBlock | VideoFrame) -> float:
    return item.t0 if isinstance(item, AudioBlock) else item.t
