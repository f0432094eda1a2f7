"""How far a careful reader agrees with the held-out test labels: the ceiling the detector is judged under.

    .venv/bin/python scripts/claims_agreement.py

`claims/data/corpus/agreement/blind_annotator_test.jsonl` holds labels given to every test item by
annotators (helper sessions, four of them, 357 items each) that saw only the label table of
`WRITING_BRIEF.md` and the bare texts: not the test labels, the writers' kinds, the training data,
the rules or the model. Their labels are scored against the test labels with the same micro-F1
as the detector, overall, per writer or source and per kind.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from claims.evaluate import evaluate  # noqa: E402

CORPUS = ROOT / "claims" / "data" / "corpus"


def main() -> int:
    test = [json.loads(x) for x in (CORPUS / "splits" / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    ann = [json.loads(x) for x in (CORPUS / "agreement" / "blind_annotator_test.jsonl").read_text(
        encoding="utf-8").splitlines()]
    if [a["text"] for a in ann] != [t["text"] for t in test]:
        print("error: the annotations are for another version of the test split", file=sys.stderr)
        return 1
    groups: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(test):
        groups["all"].append(i)
        groups["writer " + (t["writer"] if not t["writer"].startswith("public:") else "public sources")].append(i)
        groups["kind " + t["kind"]].append(i)
    print(f"{'items':34s} {'n':>5s} {'P':>6s} {'R':>6s} {'F1':>6s} {'FPR':>6s}")
    for name, ids in groups.items():
        r = evaluate([test[i]["labels"] for i in ids], [ann[i]["labels"] for i in ids])
        if r.micro_f1 or r.n_unlabelled < len(ids):
            print(f"{name:34s} {len(ids):5d} {r.micro_precision:6.3f} {r.micro_recall:6.3f} {r.micro_f1:6.3f} "
                  f"{r.fpr_unlabelled:6.3f}")
        else:  # lawful items only: precision/recall do not apply
            print(f"{name:34s} {len(ids):5d} {'':6s} {'':6s} {'':6s} {r.fpr_unlabelled:6.3f}")
    flagged = sum(bool(a["labels"]) == bool(t["labels"]) for a, t in zip(ann, test))
    print(f"\nflagged or not (any label): same call on {flagged} of {len(test)} items")
    return 0


if __name__ == "__main__":
    sys.exit(main())
