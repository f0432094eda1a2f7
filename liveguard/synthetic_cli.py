"""`liveguard vision train|eval-synthetic-image|voice`, and scan's `--synthetic-*` options.

Wiring (liveguard/cli.py): `add_synthetic_parsers(sub)`; in build_parser, `add_synthetic_scan_options(scan)`;
in the scan command, `visual = with_synthetic(args, detector, _visual_factory)`.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["add_synthetic_parsers", "add_synthetic_scan_options", "with_synthetic", "synthetic_enabled"]


def _print_report(report, as_json: bool, extra: dict | None = None) -> None:
    if as_json:
        print(json.dumps(dict(extra or {}, **report.as_dict())))
    else:
        print(report.summary())


def _image_features(scorer, folder):
    from vision.synthetic_image import image_files

    files = image_files(folder)
    feats, idx = scorer.features(files)
    if len(idx) < len(files):
        print(f"{folder}: {len(files) - len(idx)} of {len(files)} image(s) without a face skipped", file=sys.stderr)
    return feats


def _cmd_train_image(args: argparse.Namespace) -> int:
    from vision.synthetic_image import SyntheticImageProbe, SyntheticImageScorer, train_probe

    # a placeholder probe only decides the crop; the features do not depend on its weights
    scorer = SyntheticImageScorer(SyntheticImageProbe("logistic", {}, crop=args.crop))
    real, fake = _image_features(scorer, args.real), _image_features(scorer, args.fake)
    probe, report = train_probe(real, fake, kind=args.kind, crop=args.crop, epochs=args.epochs, l2=args.l2,
                                holdout=args.holdout, seed=args.seed,
                                meta={"name": args.name or args.out.rsplit("/", 1)[-1].split(".")[0],
                                      "real": args.real, "fake": args.fake})
    probe.save(args.out)
    if report is not None:
        print(f"hold-out ({args.holdout:.0%} of each class): ", end="")
        _print_report(report, args.json)
    print(f"probe ({args.kind}, {args.crop}, threshold {probe.threshold:.3f}) -> {args.out}", file=sys.stderr)
    return 0


def _cmd_eval_image(args: argparse.Namespace) -> int:
    import numpy as np

    from vision.detection_metrics import evaluate_scores
    from vision.synthetic_image import SyntheticImageScorer, load_image_probe

    probe = load_image_probe(args.probe)
    scorer = SyntheticImageScorer(probe)
    real, fake = _image_features(scorer, args.real), _image_features(scorer, args.fake)
    scores = np.concatenate([probe.score_features(real), probe.score_features(fake)])
    labels = np.r_[np.zeros(len(real)), np.ones(len(fake))]
    _print_report(evaluate_scores(labels, scores, args.threshold or probe.threshold), args.json,
                  {"probe": args.probe})
    return 0


def _clips(folder):
    from vision.synthetic_voice import audio_files, load_audio

    return [a for a in (load_audio(p) for p in audio_files(folder)) if len(a)]


def _cmd_train_voice(args: argparse.Namespace) -> int:
    from vision.synthetic_voice import VoiceNetConfig, train_voice_model

    cfg = VoiceNetConfig(segment_s=args.segment_s, channels=tuple(args.channels))
    model, report, losses = train_voice_model(
        _clips(args.bonafide), _clips(args.spoof), cfg, epochs=args.epochs, holdout=args.holdout, seed=args.seed,
        meta={"name": args.name or args.out.rsplit("/", 1)[-1].split(".")[0], "bonafide": args.bonafide,
              "spoof": args.spoof}, log=None if args.quiet else (lambda m: print(m, file=sys.stderr)))
    model.save(args.out)
    if report is not None:
        print(f"hold-out clips ({args.holdout:.0%} of each class): ", end="")
        _print_report(report, args.json, {"final_loss": round(losses[-1], 4) if losses else None})
    print(f"model (LCNN, channels {list(cfg.channels)}, threshold {model.threshold:.3f}) -> {args.out}",
          file=sys.stderr)
    return 0


def _cmd_eval_voice(args: argparse.Namespace) -> int:
    from vision.detection_metrics import evaluate_scores
    from vision.synthetic_voice import load_voice_model

    model = load_voice_model(args.model)
    bona, spoof = _clips(args.bonafide), _clips(args.spoof)
    scores = [model.score(a) for a in bona + spoof]
    _print_report(evaluate_scores([0] * len(bona) + [1] * len(spoof), scores, args.threshold or model.threshold),
                  args.json, {"model": args.model})
    return 0


def add_synthetic_parsers(sub) -> None:
    v = sub.add_parser("vision", help="synthetic-media detectors: train and evaluate your own (none ships)")
    vsub = v.add_subparsers(dest="vision_action", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true")

    ti = vsub.add_parser("train-synthetic-image", parents=[common],
                         help="fit a probe on frozen CLIP features of real vs synthetic images")
    ti.add_argument("--real", required=True, help="directory of real frames / photos (searched recursively)")
    ti.add_argument("--fake", required=True, help="directory of synthetic frames (face swaps, AI presenters)")
    ti.add_argument("--out", required=True, help="probe file to write (.npz)")
    ti.add_argument("--kind", choices=["logistic", "mlp"], default="logistic")
    ti.add_argument("--crop", choices=["frame", "face"], default="frame",
                    help="score whole frames, or the largest face (dlib) with a margin")
    ti.add_argument("--epochs", type=int, default=300)
    ti.add_argument("--l2", type=float, default=0.1,
                    help="weight decay; strong by default because there are usually far fewer images than 512")
    ti.add_argument("--holdout", type=float, default=0.25, help="share of each class evaluated, not trained on")
    ti.add_argument("--seed", type=int, default=0)
    ti.add_argument("--name", help="name recorded in the probe and in findings")
    ti.set_defaults(func=_cmd_train_image)

    ei = vsub.add_parser("eval-synthetic-image", parents=[common], help="AUC, EER, accuracy of a probe")
    ei.add_argument("--probe", required=True, help=".npz from train-synthetic-image, or a {weights, bias} JSON head")
    ei.add_argument("--real", required=True)
    ei.add_argument("--fake", required=True)
    ei.add_argument("--threshold", type=float, help="operating threshold (default: the probe's)")
    ei.set_defaults(func=_cmd_eval_image)

    tv = vsub.add_parser("train-synthetic-voice", parents=[common],
                         help="train an LCNN anti-spoofing network on bona fide vs spoofed audio")
    tv.add_argument("--bonafide", required=True, help="directory of real speech (wav, flac, mp3, ...)")
    tv.add_argument("--spoof", required=True, help="directory of synthetic speech (TTS, voice conversion)")
    tv.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    tv.add_argument("--epochs", type=int, default=20)
    tv.add_argument("--segment-s", type=float, default=4.0)
    tv.add_argument("--channels", type=int, nargs="+", default=[16, 24, 32, 48], help="LCNN widths per block")
    tv.add_argument("--holdout", type=float, default=0.25, help="share of each class's clips evaluated")
    tv.add_argument("--seed", type=int, default=0)
    tv.add_argument("--name", help="name recorded in the checkpoint and in findings")
    tv.add_argument("-q", "--quiet", action="store_true")
    tv.set_defaults(func=_cmd_train_voice)

    ev = vsub.add_parser("eval-synthetic-voice", parents=[common], help="EER, AUC, accuracy of a checkpoint")
    ev.add_argument("--model", required=True)
    ev.add_argument("--bonafide", required=True)
    ev.add_argument("--spoof", required=True)
    ev.add_argument("--threshold", type=float, help="operating threshold (default: the checkpoint's)")
    ev.set_defaults(func=_cmd_eval_voice)


def add_synthetic_scan_options(s) -> None:
    s.add_argument("--synthetic-image", metavar="PROBE",
                   help="synthetic-image probe (train-synthetic-image): synthetic-looking presenter with no AI "
                        "label -> undisclosed_ai_content (implies --ocr, to read the label). None ships.")
    s.add_argument("--synthetic-voice", metavar="CKPT",
                   help="synthetic-voice checkpoint (train-synthetic-voice), same rule. None ships.")
    s.add_argument("--synthetic-threshold", type=float, help="image probe threshold (default: the probe's)")
    s.add_argument("--synthetic-voice-threshold", type=float, help="voice threshold (default: the checkpoint's)")


def synthetic_enabled(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "synthetic_image", None) or getattr(args, "synthetic_voice", None))


def with_synthetic(args: argparse.Namespace, detector, make_visual):
    """Scan's per-file visual factory, `make_visual(args, detector)`, with the synthetic check added
    (unchanged when no model is given). The AI label is read by OCR, so OCR is switched on."""
    if not synthetic_enabled(args):
        return make_visual(args, detector)
    from pipeline.synthetic import SyntheticChecker, SyntheticOptions, WithSyntheticCheck
    from vision.synthetic_image import SyntheticImageScorer, load_image_probe
    from vision.synthetic_voice import load_voice_model

    image = SyntheticImageScorer(load_image_probe(args.synthetic_image)) if args.synthetic_image else None
    voice = load_voice_model(args.synthetic_voice) if args.synthetic_voice else None
    opts = SyntheticOptions(image_threshold=args.synthetic_threshold, voice_threshold=args.synthetic_voice_threshold)
    args.ocr = True
    visual = make_visual(args, detector)
    return lambda source: WithSyntheticCheck(visual(source), SyntheticChecker(source, image, voice, opts))
