"""The claims model's encoder layers and head run by ONNX Runtime (precision "ort", fp32).

On CPUs without native bfloat16 the model runs in fp32; ONNX Runtime runs the same graph with
fused attention, GELU and LayerNorm, with logits equal to PyTorch's within 2e-5, so the thresholds
calibrated on PyTorch's outputs hold. Measured on a 2-core EPYC without bf16 (session 13, ft11):
`liveguard bench claims -n 10000` model 126 against 112 sentences/s, rules + model 112 against
103 (1.1x; -n 5000: 146 against 121) on idle cores; with another busy process on the same two
cores (as Whisper is in scan and monitor) PyTorch's threads lose more: 1.7-1.9x there (the
encoder alone, beside a training run).

The 4-bit word table (Q4Embedding: nibble arithmetic on uint8) stays in PyTorch: it is a table
look-up, cheap, and awkward to export. The graph starts at the embeddings' output. It is exported
once per set of weights and kept beside them (`claims-body.onnx`, stamped with a digest of the
parameters it holds, so weights changed on disk or in memory get a new graph); a
model directory that cannot be written gets a private copy in the temporary directory.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from liveguard.errors import ModelError

__all__ = ["OrtNet", "ort_net", "export_body", "quantize_body", "ort_available"]

ONNX_NAME = "claims-body.onnx"
OPSET = 17


def ort_available() -> bool:
    """Both halves are importable: onnx (to export) and onnxruntime (to run)."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))


def _body(net):
    import torch

    class Body(torch.nn.Module):
        """Encoder layers + label-wise head from the embeddings' output (B, T, H) and the mask (B, T)."""

        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, h, mask):
            return self.net.head(self.net.bert.layers(h, mask), mask)

    return Body(net).eval()


def export_body(net, path: Path) -> Path:
    """Write the net's encoder layers and head as ONNX (dynamic batch and length) to `path`."""
    import torch

    if not hasattr(net.bert, "layers"):  # transformers' BertModel (training) has no entry after the embeddings
        raise ModelError("the claims net's encoder cannot be exported for ONNX Runtime: load it with lite=True")
    ids = torch.zeros((2, 12), dtype=torch.long)  # any ids: the graph starts after the look-up
    mask = torch.ones(2, 12, dtype=torch.long)
    mask[1, 8:] = 0
    body = _body(net)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python-side shapes: the axes are declared dynamic
        h = net.bert.embeddings(input_ids=ids)
        torch.onnx.export(body, (h, mask), str(tmp), input_names=["h", "mask"], output_names=["logits", "attention"],
                          dynamic_axes={"h": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"},
                                        "logits": {0: "batch"}, "attention": {0: "batch", 1: "tokens"}},
                          opset_version=OPSET, dynamo=False)
    os.replace(tmp, path)
    return path


class OrtNet:
    """Stands in for a ClaimsNet in `claims.model_detector.predict`: net(ids, mask) -> (logits, attention)."""

    def __init__(self, net, onnx_path: Path, threads: int | None = None):
        import onnxruntime as ort
        import torch

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads or torch.get_num_threads()
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        self.embeddings = net.bert.embeddings
        self.bert = net.bert  # read by ModelDetector (position table size)
        self.out_b = net.out_b  # read by predict (the number of labels)

    def __call__(self, ids, mask):
        import torch

        with torch.inference_mode():
            h = self.embeddings(input_ids=ids).float().numpy()
        z, a = self.session.run(None, {"h": h, "mask": mask.numpy().astype(np.int64)})
        return torch.from_numpy(z), torch.from_numpy(a)


def _weights_sha(net) -> str:
    """A digest of the exported parameters (the word table is not in the graph)."""
    sha = hashlib.sha256()
    for name, p in sorted(net.state_dict().items()):
        if "word_embeddings" in name:
            continue
        sha.update(name.encode())
        sha.update(p.detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()


def quantize_body(src: Path, out: Path) -> Path:
    """int8 weights, activations quantised per call (dynamic), per output channel. `reduce_range`
    (7-bit weights): without VNNI the u8 x s8 products are summed in int16 pairs and saturate at
    full range (seen on the CLIP tower, vision/clip_features.py)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
    logging.disable(logging.WARNING)  # its advice to pre-process the graph (shape inference) is for CNNs
    try:
        quantize_dynamic(str(src), str(tmp), per_channel=True, reduce_range=True, weight_type=QuantType.QInt8)
    finally:
        logging.disable(logging.NOTSET)
    os.replace(tmp, out)
    return out


def ort_net(net, model_dir: str | Path | None = None, int8: bool = False) -> OrtNet:
    """`net` run by ONNX Runtime (`int8`: its int8 graph); a graph made from these weights is reused."""
    if not ort_available():
        raise ModelError("precision 'ort' needs the packages onnx and onnxruntime (pip install onnx onnxruntime)")
    digest = _weights_sha(net)
    places = [Path(model_dir) / ONNX_NAME] if model_dir is not None else []
    places.append(Path(tempfile.gettempdir()) / "liveguard-ort" / f"claims-body-{digest[:16]}.onnx")
    for path in places:
        try:
            if not _current(path, digest):
                path.parent.mkdir(parents=True, exist_ok=True)
                export_body(net, path)
                _stamp(path, digest)
            if not int8:
                return OrtNet(net, path)
            q = path.with_name(path.stem + ".int8.onnx")
            if not _current(q, digest):
                quantize_body(path, q)
                _stamp(q, digest)
            return OrtNet(net, q)
        except OSError:
            continue  # a read-only model directory: the temporary one next
    raise ModelError("could not write the ONNX graph of the claims model (model directory and temp dir unwritable)")


def _current(path: Path, digest: str) -> bool:
    try:
        return path.exists() and json.loads(path.with_name(path.name + ".json").read_text()).get("weights") == digest
    except (OSError, ValueError):
        return False  # no stamp, or one being written by another process: make it again


def _stamp(path: Path, digest: str) -> None:
    path.with_name(path.name + ".json").write_text(json.dumps({"weights": digest, "opset": OPSET}) + "\n")
