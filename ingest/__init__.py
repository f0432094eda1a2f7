"""Ingest: decode recordings and streams into timestamped windows of audio and frames.

Knows nothing about models. Live sources (RTMP, HTTP-FLV, HLS) come with the live issue.
"""

from ingest.decode import SAMPLE_RATE, AudioBlock, DecodeStats, MediaInfo, VideoFrame, decode_media, probe
from ingest.windows import Window, WindowOptions, cut_windows, iter_file_windows

__all__ = ["SAMPLE_RATE", "AudioBlock", "DecodeStats", "MediaInfo", "VideoFrame", "Window", "WindowOptions",
           "cut_windows", "decode_media", "iter_file_windows", "probe"]
