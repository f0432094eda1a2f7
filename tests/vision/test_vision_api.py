"""Public names of the vision modules, the import rule, and `liveguard bench vision`."""

from __future__ import annotations

import argparse
import ast
import importlib
import json
from pathlib import Path

import pytest

MODULES = ["vision", "vision.errors", "vision.faces", "vision.gallery", "vision.tracking", "vision.ocr",
           "vision.ai_label", "pipeline.impersonation", "liveguard.vision_cli",
           "vision.voiceprint", "pipeline.voices", "liveguard.voice_calibration", "vision.appearances", "vision.change",
           "liveguard.vision_bench", "liveguard.face_calibration", "liveguard.calibration_table"]


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_only_real_names(name):
    module = importlib.import_module(name)
    assert [n for n in module.__all__ if not hasattr(module, n)] == []


def test_vision_imports_no_asr_and_nothing_downstream():
    root = Path(__file__).resolve().parents[2]
    bad = []
    for path in (root / "vision").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            bad += [f"{path.name}: {n}" for n in names if n.split(".")[0] in {"asr", "claims", "pipeline", "serve"}]
    assert bad == []


def test_bench_vision(impostor_video, capsys):
    from liveguard.vision_cli import add_vision_parsers

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench").add_subparsers(dest="bench", required=True)
    add_vision_parsers(sub, bench)
    args = parser.parse_args(["bench", "vision", "--file", str(impostor_video), "--frames", "2", "--json"])
    assert args.func(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frames"] == 2 and result["faces"] == 2 and result["frames_per_s"] > 0
