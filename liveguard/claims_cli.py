"""`liveguard claims classify | eval | train`.

Wired into liveguard/cli.py by `add_claims_parser(sub)`. Bad input raises LiveGuardError
subclasses (printed by the top-level CLI); in `classify` a bad line gives an
`{"line": n, "error": ...}` line and the stream goes on.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO, Iterator

from liveguard.errors import ConfigError

__all__ = ["add_claims_parser", "add_claims_bench_parser"]

# rules: the rules (+ listing checks); model: the fine-tuned claims model alone; combined: both (the
# product default, what scan and monitor run); classifier: a legacy e5 head (--head) or a user's
# transformers checkpoint (--hf-checkpoint) alone. With --head/--hf-checkpoint, combined uses that one.
DETECTORS = ("rules", "model", "combined", "classifier")
BATCH_LINES = 64          # classify embeds this many lines at a time
MAX_LINE_CHARS = 100_000  # a stdin line longer than this is refused before JSON parsing


def _build_detector(kind: str, rules_files: list[str] | None, head: str | None, hf_checkpoint: str | None,
                    model_dir: str | None = None):
    from claims import CombinedDetector, RuleDetector, RuleSet
    from claims.rules import RuleFileError

    rules = None
    if kind in ("rules", "combined"):
        try:
            rules = RuleDetector(RuleSet.from_files(rules_files) if rules_files else RuleSet.load_default())
        except RuleFileError as exc:
            raise ConfigError(str(exc)) from exc
    model = None
    if kind == "model" or (kind == "combined" and not head and not hf_checkpoint):
        from claims.defaults import LazyModel

        model = LazyModel(model_dir).load()
    elif kind in ("classifier", "combined"):
        if hf_checkpoint:
            from claims.hf_classifier import HFClassifierDetector

            model = HFClassifierDetector.load(hf_checkpoint)
        else:
            from claims.classifier import ClassifierDetector, LinearHead

            model = ClassifierDetector(LinearHead.load(head) if head else None)
    # listing checks are rule-like: they run with the rules, not with the model alone
    return CombinedDetector(rules, model, use_listing=rules is not None)


def _parse_request(line: str):
    """One stdin line -> (text, lang, Listing | None); ValueError / ListingError on bad input."""
    from claims.combined import MAX_TEXT_CHARS
    from claims.listing import Listing

    if len(line) > MAX_LINE_CHARS:
        raise ValueError(f"line has {len(line)} characters, more than {MAX_LINE_CHARS}")
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(obj, dict):
        raise ValueError('expected a JSON object like {"text": "..."}')
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("`text` must be a non-empty string")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"`text` has {len(text)} characters, more than {MAX_TEXT_CHARS}; split it into sentences")
    lang = obj.get("lang")
    if lang is not None and lang not in ("zh", "en"):
        raise ValueError(f"`lang` must be 'zh', 'en' or absent, got {lang!r}")
    listing = Listing.from_dict(obj["listing"]) if obj.get("listing") is not None else None
    return text, lang, listing


def _lines(stream) -> Iterator[tuple[int, str | UnicodeDecodeError]]:
    """(line number, text) for non-blank lines; bytes streams are decoded per line, so one line of
    bad UTF-8 becomes that line's error instead of ending the stream."""
    for n, raw in enumerate(stream, 1):
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield n, exc
                continue
        line = raw.rstrip("\r\n")
        if line.strip():
            yield n, line


def classify_stream(detector, inp, out: IO[str]) -> tuple[int, int]:
    """Classify JSON lines from `inp` (text or bytes) to `out`; returns (lines classified, lines refused)."""
    from liveguard.errors import LiveGuardError

    ok = bad = 0
    batch: list[tuple[int, str, str | None, object]] = []

    def flush() -> None:
        nonlocal ok
        if not batch:
            return
        results = detector.classify_batch([b[1] for b in batch], [b[2] for b in batch], [b[3] for b in batch])
        for r in results:
            d = r.to_dict()
            out.write(json.dumps(d, ensure_ascii=False) + "\n")
        ok += len(batch)
        batch.clear()
        out.flush()

    for n, line in _lines(inp):
        try:
            if isinstance(line, UnicodeDecodeError):
                raise ValueError(f"not UTF-8: {line.reason} at byte {line.start}")
            text, lang, listing = _parse_request(line)
        except (ValueError, LiveGuardError) as exc:
            flush()  # keep output in input order
            out.write(json.dumps({"line": n, "error": str(exc)}, ensure_ascii=False) + "\n")
            out.flush()
            bad += 1
            continue
        batch.append((n, text, lang, listing))
        if len(batch) >= BATCH_LINES:
            flush()
    flush()
    return ok, bad


def _cmd_classify(args: argparse.Namespace) -> int:
    detector = _build_detector(args.detector, args.rules, args.head, args.hf_checkpoint, args.model_dir)
    if args.input:
        try:
            inp = open(args.input, "rb")
        except OSError as exc:
            raise ConfigError(f"cannot read {args.input}: {exc}") from exc
    else:
        inp = getattr(sys.stdin, "buffer", sys.stdin)  # bytes, so bad UTF-8 is a per-line error
    try:
        ok, bad = classify_stream(detector, inp, sys.stdout)
    finally:
        if args.input:
            inp.close()
    if not args.quiet:
        print(f"classified {ok} line(s), refused {bad}", file=sys.stderr)
    return 1 if args.strict and bad else 0


def run_eval(path: str, detector) -> tuple[object, list]:
    from claims.evaluate import evaluate, load_items
    from claims.listing import Listing, ListingError

    items = load_items(path)
    listings = []
    for i, it in enumerate(items):
        try:
            listings.append(Listing.from_dict(it.listing) if it.listing is not None else None)
        except ListingError as exc:
            raise ConfigError(f"{path}: item {i + 1}: {exc}") from exc
    results = detector.classify_batch([it.text for it in items], [it.lang for it in items], listings)
    report = evaluate([it.labels for it in items], [set(r.labels) for r in results], kinds=[it.kind for it in items])
    return report, results


def _cmd_eval(args: argparse.Namespace) -> int:
    from claims.evaluate import format_table

    detector = _build_detector(args.detector, args.rules, args.head, args.hf_checkpoint, args.model_dir)
    if args.from_db:
        from liveguard.claims_feedback import drift_report, format_drift

        rep = drift_report(args.from_db, detector)
        print(json.dumps(rep, indent=1) if args.json else format_drift(rep))
        return 0
    if not args.file:
        raise ConfigError("give a labelled JSON-lines file, or --from-db URL")
    report, _ = run_eval(args.file, detector)
    if args.json:
        print(json.dumps({"detector": args.detector, "name": detector.name, **report.to_dict()}, indent=1))
    else:
        print(format_table(report, f"{args.file} — detector {args.detector} ({detector.name})"))
    return 0


def _repo_relative(path: str) -> str:
    """`path` relative to the checkout when it lies inside it (keeps machine paths out of shipped files)."""
    import claims

    root = Path(claims.__file__).resolve().parent.parent
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def _cmd_train(args: argparse.Namespace) -> int:
    from claims.evaluate import load_items

    if args.backend == "e5-ft":
        return _train_finetuned(args)
    items = load_items(args.data)
    if args.backend == "hf":
        if not args.init:
            raise ConfigError("--backend hf needs --init DIR (a transformers checkpoint to fine-tune)")
        from claims.hf_classifier import HFTrainOptions, train_hf

        out = Path(args.out or "claims-hf-model")
        opts = HFTrainOptions(epochs=args.epochs or 3, lr=args.lr or 5e-5, seed=args.seed or 7)
        report = train_hf(args.init, items, out, opts)
        print(json.dumps(report, indent=1))
        return 0
    from claims.classifier import DEFAULT_HEAD, TrainOptions
    from claims.train import data_hash, train_head

    opts = TrainOptions(**{k: v for k, v in (("epochs", args.epochs), ("lr", args.lr)) if v})
    from claims import RuleDetector

    head, report = train_head(items, opts=opts, seed=args.seed or 7, rules=RuleDetector())
    head.meta.update({"train_data": _repo_relative(args.data), "train_data_sha256": data_hash(args.data)})
    out = head.save(args.out or DEFAULT_HEAD)
    print(json.dumps({"head": str(out), **report}, indent=1))
    return 0


def _train_finetuned(args: argparse.Namespace) -> int:
    """The default model: fine-tuned e5 from the corpus (into the cache), or with moderators'
    decisions from a service database added (--from-db, into --out)."""
    from dataclasses import replace

    from claims import RuleDetector
    from claims.build_model import prepare_claims_model
    from claims.corpus import items
    from claims.finetune import FinetuneOptions, finetune
    from claims.model import save_claims_net

    opts = FinetuneOptions()
    changes = {k: v for k, v in (("epochs", args.epochs), ("lr", args.lr), ("seed", args.seed),
                                 ("layers", args.layers), ("fpr_scope", args.fpr_scope),
                                 ("threshold_rule", args.threshold_rule), ("public_weight", args.public_weight)) if v}
    # 0 is a real choice for these (train every layer; no lawful false positive), so only absence is skipped
    changes.update({k: v for k, v in (("frozen", args.frozen), ("target_fpr", args.target_fpr)) if v is not None})
    opts = replace(opts, **changes)
    log = (lambda msg: print(msg, file=sys.stderr))
    if not args.from_db and not args.out:
        if changes:
            raise ConfigError("the cached default model is built with the default options; give --out DIR "
                              "to train with other options")
        out = prepare_claims_model(force=True, log=log)
        print(json.dumps({"model_dir": str(out)}, indent=1))
        return 0
    if not args.out:
        raise ConfigError("--from-db trains a model of your own: give --out DIR (then scan/monitor "
                          "--claims-model DIR); the cached default stays the reproducible one")
    train = items("train")
    extra = []
    if args.from_db:
        from liveguard.claims_feedback import feedback_items

        extra = feedback_items(args.from_db)
        log(f"claims train: {len(extra)} sentences from moderators' decisions in {args.from_db} "
            f"({sum(1 for it in extra if it.labels)} confirmed, {sum(1 for it in extra if not it.labels)} "
            f"dismissed -> hard negatives)")
    net, meta = finetune(train + extra, items("calib"), RuleDetector(), opts, log=log)
    meta.update(name="claims-e5-custom", version="1", from_db_items=len(extra))
    save_claims_net(net, meta, args.out)
    print(json.dumps({"model_dir": str(args.out), "n_fit": meta["n_fit"], "from_db_items": len(extra)}, indent=1))
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    """Calibrate a fine-tuned model again (Platt scaling, thresholds, rule veto) on the corpus's
    calibration split, keeping its weights: another target FPR or threshold rule in a minute."""
    from dataclasses import replace

    from claims.build_model import claims_model_dir, recalibrate
    from claims.finetune import FinetuneOptions
    from claims.model import verified_meta

    if not args.model_dir:
        raise ConfigError("give --model-dir DIR (a model of your own); the cached default keeps the default "
                          "calibration and is recalibrated by `liveguard models prepare` when that changes")
    out = Path(args.model_dir)
    if out.resolve() == claims_model_dir().resolve():
        raise ConfigError(f"{out} is the cached default model; copy it and calibrate the copy")
    meta = verified_meta(out)
    opts = FinetuneOptions.of_build(meta)
    changes = {k: v for k, v in (("target_fpr", args.target_fpr), ("fpr_scope", args.fpr_scope),
                                 ("threshold_rule", args.threshold_rule)) if v is not None}
    if not (out / "manifest.json").exists():  # a model of one's own (claims train --out) has no manifest
        (out / "manifest.json").write_text(json.dumps({"model": meta.get("name")}) + "\n", encoding="utf-8")
    recalibrate(out, replace(opts, **changes), log=lambda m: print(m, file=sys.stderr))
    side = verified_meta(out)
    print(json.dumps({"model_dir": str(out), "thresholds": side["thresholds"], "rule_veto": side["rule_veto"]},
                     indent=1))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from claims.corpus import BUILD_DIR
    from liveguard.claims_report import format_report, main_json, run_report

    files = args.files or [str(BUILD_DIR / f"{name}.jsonl") for name in ("test", "template_test", "nonselling_test")]
    detectors = {name: _build_detector(name, args.rules, None, None, args.model_dir) for name in args.detector}
    report = run_report(files, detectors)
    print(main_json(report) if args.json else format_report(report))
    return 0


def add_claims_parser(subparsers) -> None:
    """Add `claims` with `classify`, `eval` and `train` to the top-level subparsers."""
    from claims.dataset_build import DEFAULT_OUT

    c = subparsers.add_parser("claims", help="classify sentences for claims, evaluate, train the classifier")
    csub = c.add_subparsers(dest="claims_command", required=True)

    def detector_opts(p: argparse.ArgumentParser, default: str) -> None:
        p.add_argument("--detector", choices=DETECTORS, default=default,
                       help="rules (+ listing checks), the classifier alone, or both (default: %(default)s)")
        p.add_argument("--rules", nargs="+", help="rule files to use instead of the bundled ones")
        p.add_argument("--head", help="classifier head .npz (default: the bundled claims/data/head.npz)")
        p.add_argument("--hf-checkpoint", help="use a fine-tuned transformers checkpoint directory as the classifier")
        p.add_argument("--model-dir", help="a claims model directory (default: the built one in the cache)")

    k = csub.add_parser("classify", help='JSON lines {"text", "listing"?, "lang"?} on stdin -> one result per line')
    detector_opts(k, "combined")
    k.add_argument("--input", help="read this file instead of stdin")
    k.add_argument("--strict", action="store_true", help="exit 1 when any line was refused")
    k.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    k.set_defaults(func=_cmd_classify)

    e = csub.add_parser("eval", help='per-label precision/recall/F1 on labelled JSON lines {"text", "labels"}')
    e.add_argument("file", nargs="?", help=f"labelled JSON lines (e.g. {DEFAULT_OUT / 'test.jsonl'})")
    e.add_argument("--from-db", metavar="URL", help="instead of a file: the detector against moderators' confirmed "
                   "and dismissed flags in this service database, per month (drift)")
    detector_opts(e, "combined")
    e.add_argument("--json", action="store_true", help="machine-readable output")
    e.set_defaults(func=_cmd_eval)

    r = csub.add_parser("report", help="rules, the model and both side by side on the held-out splits "
                        "(per kind, per label, per writer)")
    r.add_argument("files", nargs="*", help="labelled JSON lines (default: the corpus's held-out test, "
                   "template-test and non-selling-speech splits)")
    r.add_argument("--detector", nargs="+", choices=["rules", "model", "combined"], default=["rules", "model", "combined"])
    r.add_argument("--rules", nargs="+", help="rule files to use instead of the bundled ones")
    r.add_argument("--model-dir", help="a claims model directory (default: the built one in the cache)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=_cmd_report)

    t = csub.add_parser("train", help="fine-tune the claims model (default: rebuild the cached default from "
                        "claims/data/corpus), or a legacy e5 head / a transformers checkpoint")
    t.add_argument("--backend", choices=["e5-ft", "e5-head", "hf"], default="e5-ft",
                   help="e5-ft: fine-tuned e5 (the product's model); e5-head: frozen e5 + linear head; "
                   "hf: your transformers checkpoint")
    t.add_argument("--data", default=str(DEFAULT_OUT / "train.jsonl"), help="e5-head/hf: labelled train JSON lines")
    t.add_argument("--from-db", metavar="URL", help="e5-ft: add confirmed (positive) and dismissed (hard negative) "
                   "flags of this service database to the training data (needs --out)")
    t.add_argument("--out", help="e5-ft: model directory (default: rebuild the cache's); e5-head: head .npz; "
                   "hf: output directory")
    t.add_argument("--init", help="hf: checkpoint directory to start from")
    t.add_argument("--layers", type=int, help="e5-ft: e5 layers to keep and fine-tune (default 10 of 12)")
    t.add_argument("--frozen", type=int, help="e5-ft: lower layers kept as pretrained and computed once, not "
                   "trained (default 0: all)")
    t.add_argument("--epochs", type=int, help="e5-ft: passes over the training data (default 2)")
    t.add_argument("--target-fpr", type=float, help="e5-ft: lawful false-positive rate the thresholds are held to "
                   "on the calibration split (default 0.03)")
    t.add_argument("--fpr-scope", choices=["pooled", "writer"], help="e5-ft: hold that rate over all calibration "
                   "items together or on each calibration writer alone (default)")
    t.add_argument("--threshold-rule", choices=["greedy", "shift"], help="e5-ft: per label raised one at a time "
                   "until the rate holds, or best-F1 per label then one shared raise (see docs/claims.md)")
    t.add_argument("--public-weight", type=float, help="e5-ft: loss weight of items from public penalty decisions "
                   "and bulletins (default 3)")
    t.add_argument("--lr", type=float)
    t.add_argument("--seed", type=int)
    t.set_defaults(func=_cmd_train)

    k2 = csub.add_parser("calibrate", help="calibrate a fine-tuned model of your own again on the calibration "
                         "split (thresholds, Platt scaling, rule veto), keeping its weights")
    k2.add_argument("--model-dir", required=True, help="the model directory (e.g. from `claims train --out`)")
    k2.add_argument("--target-fpr", type=float, help="lawful false-positive rate to hold (default: the model's)")
    k2.add_argument("--fpr-scope", choices=["pooled", "writer"])
    k2.add_argument("--threshold-rule", choices=["greedy", "shift"])
    k2.set_defaults(func=_cmd_calibrate)



def _cmd_bench(args: argparse.Namespace) -> int:
    from claims.bench import format_bench, run_bench

    results = [run_bench(_build_detector(kind, None, args.head, None, args.model_dir), args.n) for kind in args.detector]
    base = next((r for r in results if r["detector"].startswith("rule") and "+" not in r["detector"]), None)
    for r in results:
        r["x_rules"] = round(r["sentences_per_s"] / base["sentences_per_s"], 3) if base else None
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print("\n".join(format_bench(r) for r in results))
    return 0


def add_claims_bench_parser(bench_subparsers) -> None:
    """Add `claims` under `liveguard bench`: sentences/s for rules alone and rules + classifier."""
    b = bench_subparsers.add_parser("claims", help="claims classification throughput (sentences/s)")
    b.add_argument("-n", type=int, default=10_000, help="sentences to classify (default: %(default)s)")
    b.add_argument("--detector", nargs="+", choices=DETECTORS, default=["rules", "model", "combined"])
    b.add_argument("--head", help="classifier: a legacy e5 head .npz")
    b.add_argument("--model-dir", help="a claims model directory (default: the built one in the cache)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=_cmd_bench)
