"""Ingest: decode recordings and streams into timestamped windows of audio and frames.

Knows nothing about models. `live` pulls RTMP / HTTP-FLV / HLS / RTSP with reconnects; `recorder`
keeps a rolling remuxed recording and cuts evidence clips from it.
"""

from ingest.decode import SAMPLE_RATE, AudioBlock, DecodeStats, MediaInfo, VideoFrame, decode_media, probe
from ingest.live import Gap, LiveOptions, LiveSource, LiveStatus
from ingest.recorder import ClipError, RecorderOptions, StreamRecorder
from ingest.windows import Window, WindowOptions, cut_windows, iter_file_windows

__all__ = ["ClipError", "Gap", "LiveOptions", "LiveSource", "LiveStatus", "RecorderOptions", "StreamRecorder",
           "SAMPLE_RATE", "AudioBlock", "DecodeStats", "MediaInfo", "VideoFrame", "Window", "WindowOptions",
           "cut_windows", "decode_media", "iter_file_windows", "probe"]
