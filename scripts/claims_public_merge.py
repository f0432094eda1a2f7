"""Bring newly gathered public phrasing (PUBLIC_BRIEF.md) into the corpus: a train-only file and a held-back dev file.

    .venv/bin/python scripts/claims_public_merge.py NEW.jsonl [NEW2.jsonl ...] --tag s14 [--dev-share 3]

Each line is checked like any corpus item; an item is dropped when its case is already in
sources/ or in a held-back public dev set (same group id or URL), when it repeats another new
item, or when it nearly copies a held-out item or an item of a held-back dev set (claims_neardup's
rule). Groups of different gatherers that cite one URL become one group, so a case cannot
straddle dev and train. Whole groups then go, by a hash of their id,
DEV_SHARE in 10 to held_back/public_dev_<tag>.jsonl (never built) and the rest to
sources/public_<tag>_train_only.jsonl (always train: the held-out test stays the same set).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import claims_neardup as nd  # noqa: E402

from claims.corpus import CORPUS_DIR  # noqa: E402
from claims.evaluate import parse_item  # noqa: E402

KINDS = ("public_quote", "public_paraphrase", "hard_negative")


def known_cases(paths: list[Path]) -> tuple[set[str], set[str]]:
    """The group ids and URLs of these corpus files."""
    groups, urls = set(), set()
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                groups.add(d["writer"])
                urls.update(d.get("source", "").split())
    return groups, urls


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--tag", required=True, help="names the output files, e.g. s14")
    ap.add_argument("--dev-share", type=int, default=3, help="in 10: groups held back as dev")
    ap.add_argument("--root", type=Path, default=CORPUS_DIR)
    args = ap.parse_args(argv)
    own_train = args.root / "sources" / f"public_{args.tag}_train_only.jsonl"
    own_dev = args.root / "held_back" / f"public_dev_{args.tag}.jsonl"
    # the dev sets (writers' and public) as they stand, without this run's own outputs, which a re-run rewrites
    dev_sets = [p for p in sorted((args.root / "held_back").glob("*.jsonl")) if p != own_dev]
    sources = [p for p in sorted((args.root / "sources").glob("*.jsonl")) if p != own_train]
    groups, urls = known_cases(sources + [p for p in dev_sets if p.name.startswith("public_dev_")])
    index = nd.held_out_index(tuple(dev_sets))
    rows, why, seen = [], Counter(), set()
    for path in args.files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                parse_item(line)
                d = json.loads(line)
            except ValueError as exc:
                print(f"{path}:{n}: {exc}", file=sys.stderr)
                why["invalid"] += 1
                continue
            if not d.get("writer", "").startswith("public:") or not d.get("source") or d.get("kind") not in KINDS:
                why["no public writer, source or kind"] += 1
            elif d["writer"] in groups or set(d["source"].split()) & urls:
                why["case already in the corpus"] += 1
            elif (key := re.sub(r"\W+", "", d["text"].lower())) in seen:
                why["repeated"] += 1
            elif nd.near_copy(d["text"], index):
                why["near a held-out or dev item"] += 1
            else:
                seen.add(key)
                rows.append(d)
    owner: dict[str, str] = {}
    for r in rows:
        for u in r["source"].split():
            owner.setdefault(u, r["writer"])
    for r in rows:
        r["writer"] = min(owner[u] for u in r["source"].split())
    held = {w for w in {r["writer"] for r in rows} if hashlib.sha256(w.encode()).digest()[0] % 10 < args.dev_share}
    dev = [r for r in rows if r["writer"] in held]
    train = [r for r in rows if r["writer"] not in held]
    for path, part in ((own_train, train), (own_dev, dev)):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part), encoding="utf-8")
        print(f"{path}: {len(part)} items, {len({r['writer'] for r in part})} groups, "
              f"{dict(Counter(r['kind'] for r in part))}")
    print(f"dropped: {dict(why)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
