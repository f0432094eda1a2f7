"""Drop new writers' items that nearly copy a held-out item, before they enter the corpus.

    .venv/bin/python scripts/claims_neardup.py IN.jsonl [IN2.jsonl ...] --out-dir DIR

An item is dropped when at least half of its character 4-grams (after lower-casing and removing
spaces and punctuation) occur in one held-out text: the test, template_test and nonselling_test
splits and the sentences of tests/claims/test_ordinary_talk.py. Kept items go to DIR/<same name>;
the counts per file are printed. Writers see only the brief, so copies are rare; this makes sure
a later training round cannot learn a held-out sentence from a paraphrase of it.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT = [ROOT / "claims/data/corpus/splits" / f"{s}.jsonl" for s in ("test", "template_test", "nonselling_test")]
ORDINARY = ROOT / "tests/claims/test_ordinary_talk.py"
N, LIMIT = 4, 0.5
_DROP = re.compile(r"[\W_]+", re.UNICODE)


def grams(text: str) -> set[str]:
    s = _DROP.sub("", text.lower())
    return {s[i:i + N] for i in range(max(1, len(s) - N + 1))} if s else set()


def held_out_texts(extra: tuple[Path, ...] = ()) -> list[str]:
    """The held-out texts, and those of `extra` files (e.g. dev sets new training items must not copy)."""
    texts = [json.loads(line)["text"] for p in (*HELD_OUT, *extra)
             for line in p.read_text(encoding="utf-8").splitlines() if line]
    texts += re.findall(r'"([^"\n]{8,})"', ORDINARY.read_text(encoding="utf-8"))  # its quoted sentences
    return texts


def held_out_index(extra: tuple[Path, ...] = ()) -> dict[str, list[int]]:
    """Each 4-gram of the held-out texts -> the indices of the texts holding it."""
    index: dict[str, list[int]] = {}
    held = [grams(t) for t in held_out_texts(extra)]
    for k, g in enumerate(held):
        for x in g:
            index.setdefault(x, []).append(k)
    return index


def near_copy(text: str, index: dict[str, list[int]]) -> bool:
    """At least LIMIT of the text's 4-grams occur in one held-out text."""
    g = grams(text)
    hits: dict[int, int] = {}
    for x in g:
        for k in index.get(x, ()):
            hits[k] = hits.get(k, 0) + 1
    return bool(g) and max(hits.values(), default=0) >= LIMIT * len(g)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--out-dir", type=Path, required=True)
    args = ap.parse_args(argv)
    index = held_out_index()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for path in args.files:
        kept, dropped = [], 0
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            if near_copy(json.loads(line)["text"], index):
                dropped += 1
            else:
                kept.append(line)
        (args.out_dir / path.name).write_text("\n".join(kept) + "\n", encoding="utf-8")
        print(f"{path.name}: kept {len(kept)}, dropped {dropped} near-copies of held-out items")
    return 0


if __name__ == "__main__":
    sys.exit(main())
