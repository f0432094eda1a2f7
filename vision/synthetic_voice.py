"""Is a voice synthetic? An LCNN anti-spoofing network on log linear-filterbank features, in torch.

    16 kHz audio -> 4 s crops -> |STFT| (25 ms / 10 ms) -> 60 linear triangular filters -> log
    -> LCNN (conv + Max-Feature-Map blocks, as in the ASVspoof 2019/2021 LFCC-LCNN baseline)
    -> mean over time -> P(spoof)

Why LCNN and not AASIST: AASIST (sinc front-end on raw audio + graph attention, ~300 k parameters)
is the stronger architecture on ASVspoof, but it is data-hungry and slow to train on a CPU, and
no spoofing corpus installs here to feed it. LCNN on linear filterbanks (most TTS / vocoder
artefacts sit in the high band, which mel scales squash) is the long-standing baseline: small
(77 k parameters by default), trains on two CPU cores, and its width is a config value.

No trained network ships: the only "spoof" audio here is espeak-ng, a formant synthesiser any
network separates from real speech in a few steps; a model trained on that says nothing about
neural TTS or voice clones. `liveguard vision train-synthetic-voice --bonafide DIR --spoof DIR`
trains on a user's data (ASVspoof, their own TTS output); `eval-synthetic-voice` reports EER;
`scan --synthetic-voice model.pt` uses the checkpoint.

A checkpoint is `torch.save({"format", "config", "state_dict", "threshold", "meta"})`, loaded with
`weights_only=True` (no pickled code runs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from liveguard.errors import ModelError
from vision.detection_metrics import DetectionReport, evaluate_scores
from vision.errors import VisionError
from vision.training_files import files_in

__all__ = ["SAMPLE_RATE", "AUDIO_EXTENSIONS", "VoiceNetConfig", "build_voice_net", "SyntheticVoiceModel",
           "load_audio", "audio_files", "crops", "train_voice_model", "load_voice_model"]

SAMPLE_RATE = 16_000
AUDIO_EXTENSIONS = frozenset(".wav .flac .mp3 .m4a .ogg .opus".split())
CKPT_FORMAT = 1


@dataclass(frozen=True)
class VoiceNetConfig:
    segment_s: float = 4.0  # the network sees crops of this length; longer audio is scored crop by crop
    n_fft: int = 512
    win: int = 400  # 25 ms
    hop: int = 160  # 10 ms
    n_filters: int = 60  # linear (not mel) triangular filters over 0..8 kHz
    channels: tuple[int, ...] = (16, 24, 32, 48)  # per LCNN block, after Max-Feature-Map halving
    dropout: float = 0.3

    def __post_init__(self):
        if self.segment_s <= 0 or self.hop <= 0 or self.win > self.n_fft or not self.channels or self.n_filters < 4:
            raise ValueError(f"bad VoiceNetConfig: {self}")

    @classmethod
    def from_dict(cls, d: dict) -> VoiceNetConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "channels" in known:
            known["channels"] = tuple(int(c) for c in known["channels"])
        return cls(**known)


def _linear_filterbank(n_filters: int, n_bins: int) -> np.ndarray:
    """(n_bins, n_filters) triangles evenly spaced in Hz (LFCC's filterbank, without the DCT)."""
    edges = np.linspace(0, n_bins - 1, n_filters + 2)
    bins = np.arange(n_bins)[:, None]
    lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]
    up = (bins - lo) / np.maximum(mid - lo, 1e-9)
    down = (hi - bins) / np.maximum(hi - mid, 1e-9)
    return np.clip(np.minimum(up, down), 0, None).astype(np.float32)


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a hard dependency of the project
        raise ModelError("the synthetic-voice network needs PyTorch") from exc
    return torch


def _build_net(cfg: VoiceNetConfig):
    torch = _torch()
    nn = torch.nn

    class MaxFeatureMap(nn.Module):
        """LCNN's activation: split the channels in two halves and keep the elementwise max."""

        def forward(self, x):
            a, b = x.chunk(2, dim=1)
            return torch.maximum(a, b)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("window", torch.hann_window(cfg.win), persistent=False)
            self.register_buffer("fbank", torch.from_numpy(_linear_filterbank(cfg.n_filters, cfg.n_fft // 2 + 1)),
                                 persistent=False)
            layers, c_in = [], 1
            for i, c in enumerate(cfg.channels):
                k = 5 if i == 0 else 3
                layers += [nn.Conv2d(c_in, 2 * c, 1 if i else k, padding=0 if i else k // 2), MaxFeatureMap()]
                if i:  # LCNN's 1x1 "network in network" then the 3x3 conv
                    layers += [nn.BatchNorm2d(c), nn.Conv2d(c, 2 * c, k, padding=k // 2), MaxFeatureMap()]
                layers += [nn.MaxPool2d(2), nn.BatchNorm2d(c)]
                c_in = c
            self.body = nn.Sequential(*layers)
            self.drop = nn.Dropout(cfg.dropout)
            self.head = nn.Linear(c_in, 2)

        def features(self, audio):  # (B, samples) -> (B, 1, filters, frames)
            spec = torch.stft(audio, cfg.n_fft, cfg.hop, cfg.win, self.window, return_complex=True).abs() ** 2
            lfb = torch.log(torch.einsum("bft,fk->bkt", spec, self.fbank) + 1e-6)
            lfb = lfb - lfb.mean(dim=2, keepdim=True)  # per-utterance mean normalisation (channel effects)
            return lfb.unsqueeze(1)

        def forward(self, audio):  # logits (B, 2): [bona fide, spoof]
            h = self.body(self.features(audio))
            return self.head(self.drop(h.mean(dim=(2, 3))))

    return Net()


def build_voice_net(cfg: VoiceNetConfig = VoiceNetConfig()):
    """A fresh (randomly initialised) network for `cfg`."""
    return _build_net(cfg)


def load_audio(path: str | Path) -> np.ndarray:
    """Mono float32 at 16 kHz from any file FFmpeg reads (through ingest's decoder)."""
    from ingest.decode import AudioBlock, decode_media

    blocks = [b.samples for b in decode_media(path, frame_fps=0) if isinstance(b, AudioBlock)]
    return np.concatenate(blocks).astype(np.float32) if blocks else np.zeros(0, np.float32)


def audio_files(folder: str | Path) -> list[Path]:
    return files_in(folder, AUDIO_EXTENSIONS, "audio files")


def crops(audio: np.ndarray, segment_s: float, hop_s: float | None = None) -> np.ndarray:
    """(n, segment) crops; short audio is tiled to length (as ASVspoof baselines do), never dropped."""
    n = int(round(segment_s * SAMPLE_RATE))
    audio = np.asarray(audio, np.float32)
    if len(audio) == 0:
        return np.zeros((0, n), np.float32)
    if len(audio) < n:
        audio = np.tile(audio, math.ceil(n / len(audio)))[:n]
    step = int(round((hop_s or segment_s) * SAMPLE_RATE))
    starts = list(range(0, len(audio) - n + 1, step)) or [0]
    return np.stack([audio[s:s + n] for s in starts])


@dataclass(eq=False)
class SyntheticVoiceModel:
    """A network with its config, operating threshold and provenance."""

    net: object
    cfg: VoiceNetConfig
    threshold: float = 0.5
    meta: dict = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        return f"lcnn-lfb:{self.meta.get('name', 'user')}"

    def score_crops(self, batch: np.ndarray) -> np.ndarray:
        torch = _torch()
        self.net.eval()
        with torch.inference_mode():
            logits = self.net(torch.as_tensor(np.asarray(batch, np.float32)))
            return torch.softmax(logits, dim=1)[:, 1].numpy().astype(np.float32)

    def score(self, audio: np.ndarray) -> float | None:
        """P(spoof) of one stretch of 16 kHz audio: the mean over its crops (None when empty)."""
        c = crops(audio, self.cfg.segment_s)
        return float(self.score_crops(c).mean()) if len(c) else None

    def save(self, path: str | Path) -> None:
        torch = _torch()
        torch.save({"format": CKPT_FORMAT, "config": asdict(self.cfg), "state_dict": self.net.state_dict(),
                    "threshold": float(self.threshold), "meta": self.meta}, str(path))


def load_voice_model(path: str | Path, device: str = "cpu") -> SyntheticVoiceModel:
    """A checkpoint saved by `train-synthetic-voice` (or any dict of config + state_dict in that layout)."""
    torch = _torch()
    try:
        ckpt = torch.load(str(path), map_location=device, weights_only=True)
        if ckpt.get("format") != CKPT_FORMAT:
            raise ValueError(f"checkpoint format {ckpt.get('format')!r}, expected {CKPT_FORMAT}")
        cfg = VoiceNetConfig.from_dict(ckpt["config"])
        net = _build_net(cfg)
        net.load_state_dict(ckpt["state_dict"])  # strict: a config / weights mismatch is an error
    except Exception as exc:  # noqa: BLE001 - torch.load raises pickle, struct, zip and runtime errors on junk
        raise ModelError(f"{path}: not a synthetic-voice checkpoint ({type(exc).__name__}: {exc})") from exc
    net.eval()
    return SyntheticVoiceModel(net, cfg, float(ckpt.get("threshold", 0.5)), dict(ckpt.get("meta") or {}))


def _crop_set(clips: Sequence[np.ndarray], label: int, segment_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts = [crops(a, segment_s, hop_s=segment_s / 2) for a in clips]
    x = np.concatenate(parts) if parts else np.zeros((0, int(segment_s * SAMPLE_RATE)), np.float32)
    groups = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)]) if parts else np.zeros(0, int)
    return x, np.full(len(x), label), groups


def train_voice_model(bonafide: Sequence[np.ndarray], spoof: Sequence[np.ndarray],
                      cfg: VoiceNetConfig = VoiceNetConfig(), epochs: int = 20, batch_size: int = 16,
                      lr: float = 1e-3, holdout: float = 0.25, seed: int = 0, meta: dict | None = None,
                      log=None) -> tuple[SyntheticVoiceModel, DetectionReport | None, list[float]]:
    """Train on whole clips of each class. The hold-out split is by *clip* (a clip's crops never
    straddle train and test); the hold-out EER sets the threshold. Returns the model (trained on the
    training clips only, so its stored evaluation is on unseen clips), the report, per-epoch losses."""
    torch = _torch()
    if len(bonafide) < 2 or len(spoof) < 2:
        raise VisionError(f"need at least 2 bona fide and 2 spoofed clips, got {len(bonafide)} and {len(spoof)}")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)

    def split(clips):
        idx = rng.permutation(len(clips))
        k = int(round(len(clips) * holdout)) if holdout > 0 else 0
        k = min(max(k, 1 if holdout > 0 else 0), len(clips) - 1)
        return [clips[i] for i in idx[k:]], [clips[i] for i in idx[:k]]

    (bt, bh), (st, sh) = split(list(bonafide)), split(list(spoof))
    xb, yb, _ = _crop_set(bt, 0, cfg.segment_s)
    xs, ys, _ = _crop_set(st, 1, cfg.segment_s)
    x, y = torch.as_tensor(np.concatenate([xb, xs])), torch.as_tensor(np.concatenate([yb, ys]))
    net = _build_net(cfg)
    # classes are weighted: real corpora have several times more spoofed than bona fide audio
    weight = torch.tensor([len(y) / max(1, int((y == c).sum())) for c in (0, 1)], dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight / weight.sum())
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        net.train()
        order, total = torch.randperm(len(y)), 0.0
        for i in range(0, len(y), batch_size):
            b = order[i:i + batch_size]
            if len(b) < 2:  # BatchNorm needs two items
                continue
            opt.zero_grad()
            loss = loss_fn(net(x[b]), y[b])
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
        losses.append(total / len(y))
        if log:
            log(f"epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f}")
    model = SyntheticVoiceModel(net, cfg, 0.5, {})
    report = None
    if bh and sh:
        scores = [model.score(a) for a in bh + sh]
        labels = [0] * len(bh) + [1] * len(sh)
        report = evaluate_scores(labels, scores)
        if np.isfinite(report.eer_threshold):
            model.threshold = report.eer_threshold
            report = evaluate_scores(labels, scores, threshold=model.threshold)
    model.meta = dict(meta or {}, n_bonafide=len(bonafide), n_spoof=len(spoof), train_crops=int(len(y)),
                      epochs=epochs, holdout_eval=report.as_dict() if report else None)
    return model, report, losses
