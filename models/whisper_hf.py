"""Turn an openai-whisper checkpoint into a transformers `WhisperForConditionalGeneration`.

Nothing can be downloaded where LiveGuard runs, so the Hugging Face weights are built from the
same checkpoint every other path uses (`models.cache.prepare`). transformers' own conversion
script is not in its wheel; the renaming below is all it does for Whisper. The tokenizer is the
Hugging Face `tokenizer.json` that ships beside the CTranslate2 model (same ids as openai's).
The result is saved once under `<cache>/<model>/hf/`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import torch

__all__ = ["convert_state_dict", "whisper_config", "generation_config", "to_hf_model", "prepare_hf",
           "load_hf"]

SOT, EOT, TRANSCRIBE, TRANSLATE, SOT_PREV, NO_TIMESTAMPS = 50258, 50257, 50359, 50358, 50361, 50363
BEGIN_SUPPRESS = [220, EOT]

_LAYER = [  # openai-whisper name inside a block -> transformers name inside a layer
    ("attn.query", "self_attn.q_proj"), ("attn.key", "self_attn.k_proj"), ("attn.value", "self_attn.v_proj"),
    ("attn.out", "self_attn.out_proj"), ("attn_ln", "self_attn_layer_norm"),
    ("cross_attn.query", "encoder_attn.q_proj"), ("cross_attn.key", "encoder_attn.k_proj"),
    ("cross_attn.value", "encoder_attn.v_proj"), ("cross_attn.out", "encoder_attn.out_proj"),
    ("cross_attn_ln", "encoder_attn_layer_norm"), ("mlp.0", "fc1"), ("mlp.2", "fc2"), ("mlp_ln", "final_layer_norm"),
]
_TOP = {
    "encoder.positional_embedding": "model.encoder.embed_positions.weight",
    "decoder.positional_embedding": "model.decoder.embed_positions.weight",
    "decoder.token_embedding.weight": "model.decoder.embed_tokens.weight",
}


def _rename(name: str) -> str:
    if name in _TOP:
        return _TOP[name]
    m = re.match(r"(encoder|decoder)\.blocks\.(\d+)\.(.+)\.(weight|bias)$", name)
    if m:
        side, i, inner, kind = m.groups()
        for src, dst in _LAYER:
            if inner == src:
                return f"model.{side}.layers.{i}.{dst}.{kind}"
        raise KeyError(name)
    name = re.sub(r"^encoder\.ln_post\.", "encoder.layer_norm.", name)
    name = re.sub(r"^decoder\.ln\.", "decoder.layer_norm.", name)
    if re.match(r"^encoder\.conv[12]\.|^(encoder|decoder)\.layer_norm\.", name):
        return f"model.{name}"
    raise KeyError(name)


def convert_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """openai-whisper state dict -> transformers state dict (proj_out is tied to embed_tokens)."""
    out = {_rename(k): v for k, v in sd.items() if k != "alignment_heads"}
    out["proj_out.weight"] = out["model.decoder.embed_tokens.weight"]
    return out


def whisper_config(dims: dict):
    from transformers import WhisperConfig

    return WhisperConfig(
        vocab_size=dims["n_vocab"], num_mel_bins=dims["n_mels"], d_model=dims["n_audio_state"],
        encoder_layers=dims["n_audio_layer"], encoder_attention_heads=dims["n_audio_head"],
        decoder_layers=dims["n_text_layer"], decoder_attention_heads=dims["n_text_head"],
        encoder_ffn_dim=4 * dims["n_audio_state"], decoder_ffn_dim=4 * dims["n_text_state"],
        max_source_positions=dims["n_audio_ctx"], max_target_positions=dims["n_text_ctx"],
        decoder_start_token_id=SOT, bos_token_id=EOT, eos_token_id=EOT, pad_token_id=EOT,
        # begin_suppress_tokens belongs to the generation config only: transformers warns (and the
        # test run errors) when a generation parameter sits in the model config at save time.
        tie_word_embeddings=True, activation_function="gelu",
        use_cache=True)


def _non_speech_tokens() -> list[int]:
    from whisper.tokenizer import get_tokenizer

    return list(get_tokenizer(True).non_speech_tokens)


def generation_config(dims: dict):
    """What transformers' Whisper `generate()` reads: languages, tasks, forced and suppressed tokens."""
    from transformers import GenerationConfig
    from whisper.tokenizer import LANGUAGES

    multilingual = dims["n_vocab"] >= 51865
    lang_to_id = {f"<|{code}|>": SOT + 1 + i for i, code in enumerate(LANGUAGES)} if multilingual else {}
    return GenerationConfig(
        decoder_start_token_id=SOT, bos_token_id=EOT, eos_token_id=EOT, pad_token_id=EOT,
        max_length=dims["n_text_ctx"], is_multilingual=multilingual, lang_to_id=lang_to_id,
        task_to_id={"transcribe": TRANSCRIBE, "translate": TRANSLATE}, no_timestamps_token_id=NO_TIMESTAMPS,
        prev_sot_token_id=SOT_PREV, max_initial_timestamp_index=50, return_timestamps=False,
        suppress_tokens=_non_speech_tokens(), begin_suppress_tokens=BEGIN_SUPPRESS,
        forced_decoder_ids=None)


def to_hf_model(checkpoint: dict):
    """An openai-whisper checkpoint dict ({"dims", "model_state_dict"}) -> WhisperForConditionalGeneration (fp32)."""
    from transformers import WhisperForConditionalGeneration

    dims = checkpoint["dims"]
    dims = dims if isinstance(dims, dict) else vars(dims)
    model = WhisperForConditionalGeneration(whisper_config(dims))
    sd = {k: v.float() for k, v in convert_state_dict(checkpoint["model_state_dict"]).items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if k != "proj_out.weight"]
    if missing or unexpected:
        raise RuntimeError(f"whisper -> transformers: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    model.generation_config = generation_config(dims)
    return model.eval()


def _tokenizer_json(model_name: str) -> Path:
    from models.cache import prepare_ct2

    return prepare_ct2(model_name) / "tokenizer.json"


def load_tokenizer(tokenizer_file: str | Path):
    from transformers import WhisperTokenizerFast

    return WhisperTokenizerFast(tokenizer_file=str(tokenizer_file), unk_token="<|endoftext|>",
                                bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                pad_token="<|endoftext|>")


def prepare_hf(model_name: str = "whisper-base", root: Path | None = None) -> Path:
    """`<cache>/<model>/hf/`: model, generation config, tokenizer and feature extractor, built once."""
    from transformers import WhisperFeatureExtractor, WhisperProcessor

    from models.cache import cache_dir, prepare

    root = root or cache_dir()
    dest = root / model_name / "hf"
    if (dest / "model.safetensors").exists() and (dest / "tokenizer.json").exists():
        return dest
    ckpt = torch.load(prepare(model_name, root), map_location="cpu", weights_only=False)
    model = to_hf_model(ckpt)
    n_mels = model.config.num_mel_bins
    processor = WhisperProcessor(WhisperFeatureExtractor(feature_size=n_mels),
                                 load_tokenizer(_tokenizer_json(model_name)))
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".hf-"))
    try:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        (tmp / "liveguard.json").write_text(json.dumps({"source": model_name}))
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def load_hf(model_name: str = "whisper-base", device: str = "cpu", dtype: torch.dtype | None = None):
    """(model, processor) from the cache, converting first if needed."""
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    path = prepare_hf(model_name)
    model = WhisperForConditionalGeneration.from_pretrained(path, dtype=dtype or torch.float32)
    return model.to(device).eval(), WhisperProcessor.from_pretrained(path)
