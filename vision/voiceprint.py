"""Voice prints: 256-d speaker embeddings from the GE2E encoder that ships in `resemblyzer==0.1.4`.

The network (3-layer LSTM over 40 mel bands -> linear 256 -> ReLU -> L2 norm) and the front end
(power mel spectrogram, 25 ms Hann window, 10 ms hop, no log) are re-implemented here so that the
package's own code never runs: its `__init__` imports webrtcvad, which needs `pkg_resources`
(gone from setuptools >= 81), and librosa, which we do not install. Only `pretrained.pt` is read,
located with importlib without importing the package, and its sha256 is checked against the
model registry before use.

An utterance is cut into partial utterances of 160 frames (1.6 s) started every 77 frames
(1.3 per second); each partial gives an embedding, and the utterance's print is their
re-normalised mean. Speech must be found by the caller (Silero VAD spans, in `pipeline.voices`):
this stage takes audio that is already speech.

Two prints are compared by cosine similarity (prints are unit length, so a dot product);
thresholds are in `MATCH_SIMILARITY` and were calibrated on real speakers (docs/vision.md).
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from liveguard.errors import ModelError

__all__ = ["VOICE_DIM", "VOICE_MODEL_ID", "VOICE_SAMPLE_RATE", "MATCH_SIMILARITY", "MIN_SPEECH_S",
           "VoiceEncoder", "mel_filterbank", "mel_spectrogram", "partial_starts", "voice_weights_path",
           "cosine_similarities", "normalise_volume"]

VOICE_SAMPLE_RATE = 16_000  # the encoder was trained on 16 kHz audio (same rate as ingest's windows)
N_FFT = 400  # 25 ms window
HOP = 160  # 10 ms hop
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s of audio per partial utterance
PARTIAL_STEP = 77  # frames between partial starts: round(16000 / 1.3 / 160), resemblyzer's default rate
MIN_COVERAGE = 0.75  # a last partial padded with more than 25 % silence is dropped (unless it is the only one)
TARGET_DBFS = -30.0  # quiet speech is raised to this level (never lowered): the features are not log-scaled
HIDDEN = 256
VOICE_DIM = 256
LAYERS = 3

WEIGHTS_PACKAGE = "resemblyzer"
WEIGHTS_FILE = "pretrained.pt"
REGISTRY_NAME = "resemblyzer"
VOICE_MODEL_ID = "resemblyzer@0.1.4"  # recorded with every voice match and in the gallery
# Cosine similarity at or above which two prints are taken as the same speaker. Calibrated on
# real speakers (enrolment clip vs 2-4 s speech turns of other clips): docs/vision.md,
# `liveguard gallery calibrate-voice`.
MATCH_SIMILARITY = 0.80
MIN_SPEECH_S = 2.0  # shorter speech gives unstable prints (one or two partials)


def voice_weights_path() -> Path:
    """`pretrained.pt` inside the installed resemblyzer package, found without importing it."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("voice weights missing: install resemblyzer==0.1.4 (pip install --no-deps)")
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE
    if not path.is_file():
        raise ModelError(f"voice weights missing: {path} (reinstall resemblyzer==0.1.4)")
    return path


# --- front end --------------------------------------------------------------------------------------


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (Auditory Toolbox): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, np.float64)
    lin = f / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log, lin)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


@cache
def mel_filterbank(sr: int = VOICE_SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, Slaney mel scale, each scaled to unit area
    (the 'slaney' norm: 2 / bandwidth), spanning 0 Hz to Nyquist. Read-only."""
    bins_hz = np.linspace(0.0, sr / 2, n_fft // 2 + 1)
    edges_hz = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2), n_mels + 2))
    widths = np.diff(edges_hz)
    fb = np.zeros((n_mels, len(bins_hz)))
    for i in range(n_mels):
        rising = (bins_hz - edges_hz[i]) / widths[i]
        falling = (edges_hz[i + 2] - bins_hz) / widths[i + 1]
        fb[i] = np.maximum(0.0, np.minimum(rising, falling))
    fb *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    fb = fb.astype(np.float32)
    fb.flags.writeable = False
    return fb


@cache
def _hann() -> np.ndarray:
    # periodic Hann (what an STFT wants), not the symmetric one np.hanning gives
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def mel_spectrogram(audio: np.ndarray) -> np.ndarray:
    """(frames, 40) power mel spectrogram, frames centred every 10 ms (zero-padded at the ends):
    1 + len(audio) // 160 frames."""
    audio = np.asarray(audio, np.float32)
    padded = np.pad(audio, N_FFT // 2)
    n = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(padded, (n, N_FFT), (padded.strides[0] * HOP, padded.strides[0]),
                                             writeable=False)
    power = np.abs(np.fft.rfft(frames * _hann(), axis=1)) ** 2
    return (power.astype(np.float32) @ mel_filterbank().T).astype(np.float32)


def normalise_volume(audio: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Raise quiet speech to `target_dbfs` RMS; loud speech is left alone (as in training)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
    if rms <= 1e-9:
        return audio
    gain_db = target_dbfs - 20 * np.log10(rms)
    return (audio * np.float32(10 ** (gain_db / 20))).astype(np.float32) if gain_db > 0 else audio


def partial_starts(n_samples: int) -> list[int]:
    """Start frames of the 1.6 s partial utterances covering `n_samples` of audio."""
    n_frames = -(-(n_samples + 1) // HOP)  # ceil
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + PARTIAL_STEP + 1), PARTIAL_STEP))
    covered = (n_samples - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if covered < MIN_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts


def cosine_similarities(prints: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """(n, m) cosine similarities of unit-length prints (n, d) against (m, d)."""
    a = np.asarray(prints, np.float32).reshape(-1, VOICE_DIM)
    b = np.asarray(refs, np.float32).reshape(-1, VOICE_DIM)
    return a @ b.T


# --- the network --------------------------------------------------------------------------------------

_lock = threading.Lock()


@cache
def _load_network(device: str):
    import torch

    from models.cache import sha256_file
    from models.registry import get_spec

    path = voice_weights_path()
    expected = get_spec(REGISTRY_NAME).sha256
    if sha256_file(path) != expected:
        raise ModelError(f"{path}: sha256 does not match the registry's {expected}; reinstall resemblyzer==0.1.4")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)["model_state"]
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        raise ModelError(f"{path}: not a readable voice encoder checkpoint ({exc})") from exc

    class _Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(N_MELS, HIDDEN, LAYERS, batch_first=True)
            self.linear = torch.nn.Linear(HIDDEN, VOICE_DIM)

        def forward(self, mels):
            _, (hidden, _) = self.lstm(mels)
            raw = torch.relu(self.linear(hidden[-1]))
            return raw / torch.linalg.vector_norm(raw, dim=1, keepdim=True).clamp_min(1e-12)

    net = _Encoder()
    # The checkpoint also holds GE2E's training-only similarity scale and bias; everything the
    # network needs must be there.
    wanted = net.state_dict().keys()
    missing = [k for k in wanted if k not in state]
    if missing:
        raise ModelError(f"{path}: voice encoder weights lack {missing}")
    net.load_state_dict({k: state[k] for k in wanted})
    return net.eval().to(device)


@dataclass(frozen=True)
class _Batch:
    mels: np.ndarray  # (partials, 160, 40)
    owner: np.ndarray  # which utterance each partial belongs to


class VoiceEncoder:
    """Speech audio (16 kHz mono float32) -> unit-length 256-d voice prints."""

    model_id = VOICE_MODEL_ID

    def __init__(self, device: str = "cpu", batch_partials: int = 64):
        self.device = device
        self.batch_partials = batch_partials  # partial utterances per network call
        self.net = _load_network(device)

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """The print of one utterance (speech only: silences should already be cut out)."""
        return self.embed_many([audio])[0]

    def embed_many(self, utterances: list[np.ndarray]) -> np.ndarray:
        """(n, 256) prints, one per utterance; all partials go through the network in batches."""
        if not utterances:
            return np.zeros((0, VOICE_DIM), np.float32)
        batch = self._partials(utterances)
        import torch

        out = []
        with _lock, torch.inference_mode():  # one LSTM run at a time: torch already uses every core
            for i in range(0, len(batch.mels), self.batch_partials):
                x = torch.from_numpy(batch.mels[i:i + self.batch_partials]).to(self.device)
                out.append(self.net(x).cpu().numpy())
        partial = np.concatenate(out)
        prints = np.stack([partial[batch.owner == k].mean(axis=0) for k in range(len(utterances))])
        return (prints / np.linalg.norm(prints, axis=1, keepdims=True).clip(1e-12)).astype(np.float32)

    @staticmethod
    def _partials(utterances: list[np.ndarray]) -> _Batch:
        mels, owner = [], []
        for k, audio in enumerate(utterances):
            audio = np.asarray(audio, np.float32)
            if len(audio) < HOP:
                raise ValueError(f"utterance {k}: {len(audio)} samples is too short for a voice print")
            starts = partial_starts(len(audio))
            need = (starts[-1] + PARTIAL_FRAMES) * HOP  # the last partial may run past the end: pad with silence
            audio = normalise_volume(audio)
            if need >= len(audio):
                audio = np.pad(audio, (0, need - len(audio)))
            mel = mel_spectrogram(audio)
            mels += [mel[s:s + PARTIAL_FRAMES] for s in starts]
            owner += [k] * len(starts)
        return _Batch(np.ascontiguousarray(np.stack(mels)), np.array(owner))
