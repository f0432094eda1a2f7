"""The openai-whisper -> transformers conversion gives the same network."""

import pytest
import torch

pytest.importorskip("transformers")

from models.whisper_hf import convert_state_dict, to_hf_model  # noqa: E402


@pytest.fixture(scope="module")
def tiny_pair(tiny_whisper_path):
    import whisper

    ckpt = torch.load(tiny_whisper_path, map_location="cpu", weights_only=False)
    openai = whisper.load_model(str(tiny_whisper_path), device="cpu").float().eval()
    return openai, to_hf_model(ckpt)


def test_every_weight_is_mapped(tiny_whisper_path):
    ckpt = torch.load(tiny_whisper_path, map_location="cpu", weights_only=False)
    sd = convert_state_dict(ckpt["model_state_dict"])
    assert "model.encoder.layers.0.self_attn.k_proj.weight" in sd
    assert "model.encoder.layers.0.self_attn.k_proj.bias" not in sd  # keys have no bias in either
    assert sd["proj_out.weight"] is sd["model.decoder.embed_tokens.weight"]


def test_encoder_and_decoder_match_openai(tiny_pair):
    openai, hf = tiny_pair
    assert hf.proj_out.weight.data_ptr() == hf.model.decoder.embed_tokens.weight.data_ptr()
    torch.manual_seed(1)
    mel = torch.randn(2, 80, 3000)
    tokens = torch.tensor([[50258, 50259, 50359, 50363, 400, 1000, 13]] * 2)
    with torch.no_grad():
        enc_a = openai.embed_audio(mel)
        enc_b = hf.model.encoder(mel).last_hidden_state
        assert (enc_a - enc_b).abs().max().item() < 1e-4
        logits_a = openai.logits(tokens, enc_a)
        logits_b = hf(input_features=mel, decoder_input_ids=tokens).logits
    assert (logits_a - logits_b).abs().max().item() < 1e-3


def test_generation_config_speaks_whisper(tiny_pair):
    gc = tiny_pair[1].generation_config
    assert gc.lang_to_id["<|en|>"] == 50259 and gc.lang_to_id["<|zh|>"] == 50260
    assert gc.task_to_id == {"transcribe": 50359, "translate": 50358}
    assert gc.no_timestamps_token_id == 50363 and gc.is_multilingual
    assert gc.begin_suppress_tokens == [220, 50257] and 50254 in gc.suppress_tokens


@pytest.mark.slow
def test_real_base_weights_transcribe_librivox():
    from asr.metrics import wer
    from liveguard.bench_asr import reference_clips
    from models.whisper_hf import load_hf

    clips = [c for c in reference_clips() if c.name.startswith("sense_and_sensibility")]
    if not clips:
        pytest.skip("no LibriVox clips (pocketsphinx-testdata)")
    model, proc = load_hf("whisper-base")
    feats = proc.feature_extractor(clips[0].audio, sampling_rate=16000, return_tensors="pt").input_features
    with torch.no_grad():
        ids = model.generate(feats, task="transcribe", language="en")
    text = proc.batch_decode(ids, skip_special_tokens=True)[0].strip()
    assert wer([clips[0].reference], [text]) <= 0.2
