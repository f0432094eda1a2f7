"""Live HLS read segment by segment, each segment exactly once, across reconnects and restarts.

FFmpeg's own HLS demuxer starts every connection near the end of the playlist. When a source stops
but its playlist stays (a crashed encoder leaves no `#EXT-X-ENDLIST`), every reconnect therefore
re-reads the same last segments, and a claim spoken once was reported again on each reconnect.
Here the playlist is polled by us: segments are identified by their media sequence number, the
next number to read is kept in an `HlsCursor` that outlives connections (and is saved with the
stream's state, so a restarted monitor goes on where it stopped), and the bytes of new segments
are handed to FFmpeg through a file object, as one continuous MPEG-TS (or fMP4) input.

What the playlist says is honoured: `#EXT-X-ENDLIST` ends the stream once its last segment is read;
`#EXT-X-DISCONTINUITY` ends the connection before the segment, so the next one starts a fresh
timeline (timestamps reset there); `#EXT-X-PROGRAM-DATE-TIME` is kept per segment; a master
playlist is followed to its highest-bandwidth variant. A playlist that does not grow for
`stall_s` is a stalled stream (`HlsStalled`).
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from liveguard.errors import MediaOpenError, StreamReadError

__all__ = ["is_hls", "HlsSegment", "Playlist", "parse_playlist", "HlsCursor", "HlsReader", "HlsStalled"]

log = logging.getLogger(__name__)
MAX_PLAYLIST_BYTES = 4 << 20
MAX_SEGMENT_BYTES = 256 << 20


class HlsStalled(StreamReadError):
    """The playlist stopped growing (and has no #EXT-X-ENDLIST): the source is gone."""


def is_hls(url: str) -> bool:
    path = urllib.parse.urlsplit(str(url)).path.lower()
    return str(url).lower().startswith(("http://", "https://")) and path.endswith((".m3u8", ".m3u"))


@dataclass(frozen=True)
class HlsSegment:
    seq: int
    uri: str  # absolute
    duration: float
    discontinuity: bool = False
    program_date_time: float | None = None  # epoch seconds, when the playlist says
    init_uri: str | None = None  # fMP4: the #EXT-X-MAP initialisation section


@dataclass
class Playlist:
    media_sequence: int = 0
    target_duration: float = 0.0
    segments: list[HlsSegment] = field(default_factory=list)
    endlist: bool = False
    variants: list[tuple[int, str]] = field(default_factory=list)  # master playlist: (bandwidth, uri)


def _attrs(text: str) -> dict[str, str]:
    """KEY=VALUE,KEY="quoted, value" attribute lists of HLS tags."""
    out, key, val, quoted, in_key = {}, "", "", False, True
    for ch in text + ",":
        if in_key:
            if ch == "=":
                in_key = False
            elif ch != ",":
                key += ch
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out[key.strip().upper()] = val
            key, val, in_key = "", "", True
        else:
            val += ch
    return out


def _epoch(value: str) -> float | None:
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def parse_playlist(text: str, base_url: str) -> Playlist:
    """Parse an M3U8 playlist (media or master). Raises ValueError if it is not one."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("#EXTM3U"):
        raise ValueError("not an HLS playlist (no #EXTM3U header)")
    pl = Playlist()
    seq = None
    duration, disc, pdt, init, bandwidth = None, False, None, None, None
    for ln in lines[1:]:
        if ln.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            pl.media_sequence = int(ln.split(":", 1)[1])
        elif ln.startswith("#EXT-X-TARGETDURATION:"):
            pl.target_duration = float(ln.split(":", 1)[1])
        elif ln.startswith("#EXTINF:"):
            duration = float(ln.split(":", 1)[1].split(",")[0] or 0)
        elif ln.startswith("#EXT-X-DISCONTINUITY") and not ln.startswith("#EXT-X-DISCONTINUITY-SEQUENCE"):
            disc = True
        elif ln.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = _epoch(ln.split(":", 1)[1])
        elif ln.startswith("#EXT-X-MAP:"):
            uri = _attrs(ln.split(":", 1)[1]).get("URI", "").strip('"')
            init = urllib.parse.urljoin(base_url, uri) if uri else None
        elif ln.startswith("#EXT-X-ENDLIST"):
            pl.endlist = True
        elif ln.startswith("#EXT-X-STREAM-INF:"):
            try:
                bandwidth = int(_attrs(ln.split(":", 1)[1]).get("BANDWIDTH", "0"))
            except ValueError:
                bandwidth = 0
        elif not ln.startswith("#"):
            uri = urllib.parse.urljoin(base_url, ln)
            if bandwidth is not None:
                pl.variants.append((bandwidth, uri))
                bandwidth = None
                continue
            seq = pl.media_sequence if seq is None else seq + 1
            pl.segments.append(HlsSegment(seq, uri, duration or 0.0, disc, pdt, init))
            if pdt is not None and duration:
                pdt += duration  # the next segment's time follows unless the playlist says otherwise
            duration, disc = None, False
    return pl


@dataclass
class HlsCursor:
    """What has been read of one stream, across connections: the next media sequence number to read
    (None: start at the live edge), and when the playlist last grew (wall clock)."""
    next_seq: int | None = None
    last_growth: float | None = None
    ended: bool = False  # #EXT-X-ENDLIST seen and every segment read
    media_url: str | None = None  # the variant chosen from a master playlist
    program_date_time: float | None = None  # of the newest segment read, when the playlist gives it
    segments_read: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


class HlsReader:
    """A read-only, unseekable file object over a live playlist's new segments, for av.open().

    `read()` blocks until a new segment is published. It returns b"" (end of input) when the
    playlist ended, before a discontinuity (the connection is then reopened on a fresh timeline),
    when `stop` is set, or when nothing new came for `read_timeout` (the caller reconnects); a
    playlist that has not grown for `stall_s` raises HlsStalled, a dead URL raises MediaOpenError.
    `outcome` says why the input ended."""

    def __init__(self, url: str, cursor: HlsCursor, read_timeout: float = 10.0, stall_s: float = 60.0,
                 clock: Callable[[], float] = time.time, stop: threading.Event | None = None,
                 live_edge_segments: int = 3):
        self.url = url
        self.cursor = cursor
        self.read_timeout = read_timeout
        self.stall_s = stall_s
        self.live_edge_segments = live_edge_segments
        self.clock = clock
        self.stop = stop or threading.Event()
        self.outcome: str | None = None
        self._buf = b""
        self._pending: list[HlsSegment] = []
        self._started = False  # a segment has been handed over on this connection
        self._init_sent: str | None = None
        self._target = 0.0  # the playlist's target segment duration, once read

    # -- file object protocol (what PyAV looks for) ------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        while not self._buf:
            if self.outcome is not None or not self._fill():
                return b""
        n = len(self._buf) if n is None or n < 0 else n
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def close(self) -> None:
        self._buf = b""

    # -- playlist polling --------------------------------------------------------------------------
    def _get(self, url: str, limit: int) -> bytes:
        try:
            with urllib.request.urlopen(url, timeout=self.read_timeout) as resp:
                data = resp.read(limit + 1)
        except urllib.error.HTTPError as exc:
            raise MediaOpenError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise MediaOpenError(f"{url}: cannot open stream ({reason})") from exc
        if len(data) > limit:
            raise StreamReadError(f"{url}: larger than {limit} bytes")
        return data

    def playlist(self) -> Playlist:
        c = self.cursor
        url = c.media_url or self.url
        text = self._get(url, MAX_PLAYLIST_BYTES).decode("utf-8", "replace")
        try:
            pl = parse_playlist(text, url)
        except ValueError as exc:
            raise MediaOpenError(f"{url}: {exc}") from exc
        if pl.variants and not pl.segments:  # master playlist: follow the richest variant
            c.media_url = max(pl.variants)[1]
            return self.playlist()
        return pl

    def _new_segments(self) -> list[HlsSegment]:
        pl = self.playlist()
        c = self.cursor
        now = self.clock()
        with c.lock:
            if c.last_growth is None:
                c.last_growth = now
            if c.next_seq is None:  # first connection: start near the live edge, as players do
                edge = pl.segments[-self.live_edge_segments:] if not pl.endlist else pl.segments
                c.next_seq = edge[0].seq if edge else pl.media_sequence
            if pl.segments and pl.segments[-1].seq < c.next_seq - 1:
                # Numbers went back: the encoder restarted (FFmpeg starts again at 0 by default). What
                # it lists now is new, on a new timeline; going by the old numbers would take the live
                # stream for a stalled one.
                log.warning("%s: media sequence went back from %d to %d: encoder restarted", self.url,
                            c.next_seq - 1, pl.segments[-1].seq)
                c.next_seq = pl.segments[0].seq
                pl.segments[0] = replace(pl.segments[0], discontinuity=True)
            fresh = [s for s in pl.segments if s.seq >= c.next_seq]
            if pl.segments and pl.segments[0].seq > c.next_seq:
                log.warning("%s: segments %d-%d left the playlist before they were read", self.url,
                            c.next_seq, pl.segments[0].seq - 1)
            if fresh:
                c.last_growth = now
            elif pl.endlist:
                c.ended = True
            self._target = pl.target_duration
        return fresh

    def _fill(self) -> bool:
        """Load the next segment into the buffer; False when this input ends (see `outcome`)."""
        deadline = self.clock() + max(self.read_timeout, 1.5 * self._target)
        while not self._pending:
            if self.stop.is_set():
                self.outcome = "stopped"
                return False
            self._pending = self._new_segments()
            if self._pending:
                break
            c = self.cursor
            if c.ended:
                self.outcome = "end of stream (#EXT-X-ENDLIST)"
                return False
            if self.clock() - (c.last_growth or self.clock()) >= self.stall_s:
                self.outcome = "stalled"
                raise HlsStalled(f"{self.url}: playlist has not grown for {self.stall_s:.0f} s "
                                 "and has no #EXT-X-ENDLIST (source stalled)")
            if self.clock() >= deadline:
                self.outcome = "no new segment"
                return False
            self.stop.wait(min(1.0, max(0.2, (self._target or 1.0) / 2)))
        seg = self._pending[0]
        if seg.discontinuity and self._started:
            self.outcome = "discontinuity"  # the next connection starts a fresh timeline here
            return False
        self._pending.pop(0)
        data = self._get(seg.uri, MAX_SEGMENT_BYTES)
        if seg.init_uri and seg.init_uri != self._init_sent:
            data = self._get(seg.init_uri, MAX_SEGMENT_BYTES) + data
            self._init_sent = seg.init_uri
        c = self.cursor
        with c.lock:
            c.next_seq = seg.seq + 1
            c.segments_read += 1
            if seg.program_date_time is not None:
                c.program_date_time = seg.program_date_time
        self._started = True
        self._buf = data
        return True
