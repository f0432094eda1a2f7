"""Model registry: which weights each task uses, where they come from, their checksums."""

from models.cache import cache_dir, prepare, prepare_ct2, sha256_file
from models.registry import DEFAULT_ASR_MODEL, REGISTRY, ModelSpec, get_spec

__all__ = ["DEFAULT_ASR_MODEL", "REGISTRY", "ModelSpec", "cache_dir", "get_spec", "prepare", "prepare_ct2", "sha256_file"]
