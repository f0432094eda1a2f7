"""The exceptions LiveGuard raises on purpose.

    LiveGuardError                 base: the CLI catches this, prints it and goes on / exits 1
    ├── MediaError                 a recording or stream could not be used
    │   ├── MediaOpenError         not a media file, unreadable, truncated header, missing file
    │   ├── NoAudioStreamError     the file has no audio track: nothing to transcribe
    │   ├── MediaDecodeError       decoding failed part-way and nothing usable came out
    │   └── StreamReadError        reading a live stream failed (dropped, stalled, refused)
    ├── ModelError                 weights missing, checksum mismatch, unknown model name
    └── ConfigError                bad option value or bad data file

Third-party errors (PyAV, torch, SQLAlchemy) are wrapped where they enter our code, with
`raise XError(...) from exc`, so callers need to know only this tree.
"""

__all__ = [
    "LiveGuardError",
    "MediaError",
    "MediaOpenError",
    "NoAudioStreamError",
    "MediaDecodeError",
    "StreamReadError",
    "ModelError",
    "ConfigError",
]


class LiveGuardError(Exception):
    """Base of every error LiveGuard raises on purpose."""


class MediaError(LiveGuardError):
    """A recording or a stream could not be used."""


class MediaOpenError(MediaError):
    """The input could not be opened as media (missing, not media, header unreadable)."""


class NoAudioStreamError(MediaError):
    """The input has no audio track, so there is no speech to check."""


class MediaDecodeError(MediaError):
    """Decoding failed and produced nothing usable."""


class StreamReadError(MediaError):
    """Reading a live stream (or a file) failed part-way: dropped, stalled, refused."""


class ModelError(LiveGuardError):
    """Model weights are missing, corrupt or unknown."""


class ConfigError(LiveGuardError):
    """An option or a data file has a value LiveGuard cannot use."""
