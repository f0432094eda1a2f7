import importlib

import pytest

PACKAGES = ["liveguard", "liveguard.errors", "ingest", "asr", "vision", "claims", "models", "pipeline", "serve"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_only_real_names(name):
    module = importlib.import_module(name)
    assert isinstance(module.__all__, list | tuple)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []


def test_stages_do_not_import_downstream():
    """Data flows ingest -> asr -> claims -> pipeline -> serve; nothing below imports what is above it."""
    import ast
    from pathlib import Path

    order = ["models", "ingest", "asr", "vision", "claims", "pipeline", "serve"]
    root = Path(__file__).resolve().parent.parent
    bad = []
    for i, pkg in enumerate(order):
        forbidden = set(order[i + 1:]) | ({"vision"} if pkg == "asr" else set()) | ({"asr"} if pkg == "vision" else set())
        if pkg == "models":
            forbidden -= {"asr"}  # models may build tiny whisper via openai-whisper, never via our asr
        for path in (root / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
                bad += [f"{path.relative_to(root)} imports {n}" for n in names if n.split(".")[0] in forbidden]
    assert bad == []
