"""The 17 claim/conduct labels of /work/shared/CLAIMS_TAXONOMY.md, and `ban_evasion`.

Ids are stable: they are used in code, the database and the API. Severity is the
default from the doc; deployments may override it elsewhere.

`ban_evasion` is not in the shared taxonomy table: the doc's sanctions ladder says "a blacklisted
person may not come back under a new account" (禁止重新注册) but gives no label for catching it.
The identity stage (faces and voices against the gallery's blacklisted streamers) needs one for
its findings, flags and the review queue, so it is added here with the legal basis the platform
blacklist rests on. It is decided by who is on screen or speaking, never by what is said, so the
text detectors (rules, classifier, labelled dataset) leave it out: see `TEXT_LABELS`.
"""
from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class Label:
    id: str
    name_zh: str
    name_en: str
    definition: str
    legal_basis: str
    severity: str

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"label {self.id!r}: severity {self.severity!r} not in {SEVERITIES}")


_ROWS = (
    ("absolute_terms", "绝对化/极限用语", "Absolute / superlative terms",
     'superlatives, "first/only/best", "national-level" claims that cannot be proven',
     "Advertising Law Art. 9(3)", "medium"),
    ("medical_claim_non_drug", "非药品宣称治疗功能", "Medical claim for a non-drug",
     "ordinary food, cosmetics or goods said to treat, cure or prevent disease, "
     "or described in medical terms",
     "Advertising Law Art. 17, 28", "high"),
    ("health_food_overclaim", "保健食品违规宣称", "Health-food overclaim",
     "health food said to cure/prevent disease, to be necessary, better than drugs, or endorsed",
     "Advertising Law Art. 18", "high"),
    ("efficacy_guarantee", "功效/安全保证", "Efficacy / safety guarantee",
     'promised cure, "no side effects", cure rates, "refund if it doesn\'t work"',
     "Advertising Law Art. 16, 18", "high"),
    ("disguised_health_ad", "养生科普/义诊变相广告", "Disguised health advertising",
     'a health lecture or "free consultation" that leads into a sale',
     "Advertising Law Art. 19; Internet Advertising Measures", "high"),
    ("fake_price", "虚构原价/虚假折扣", "Fake reference price / discount",
     'made-up reference price, impossible discount, baseless "lowest/factory price"',
     "price-fraud rules (2022 明码标价和禁止价格欺诈规定)", "medium"),
    ("fake_scarcity", "虚假限量/限时", "Fake scarcity / urgency",
     'invented stock limits, countdowns, "last batch" pressure',
     "Anti-Unfair Competition Law Art. 9; Advertising Law Art. 28", "medium"),
    ("fake_social_proof", "虚构销量/好评/排名", "Fake social proof",
     'invented sales figures, rankings, reviews, "celebrities all use it"',
     "Anti-Unfair Competition Law Art. 9; live-marketing rules Art. 18", "medium"),
    ("false_origin_cert", "虚假产地/成分/检测/专利/荣誉", "False origin / certification",
     "false origin, ingredients, test reports, certificates, patents, awards, heritage titles",
     "Advertising Law Art. 11, 12, 28", "high"),
    ("false_authority_identity", '冒用机关/军队/专家身份、"特供"', "False authority identity",
     'claims to be military, veteran, official, doctor or professor, or "special supply" goods',
     "Advertising Law Art. 9(1)(2); Military Uniform Regulations Art. 10, 15", "high"),
    ("ai_impersonation", "AI仿冒他人形象/声音", "AI impersonation",
     "a synthetic or borrowed likeness or voice of a real person used to sell without consent",
     "Live-Commerce Supervision Measures (2026); Advertising Law Art. 28, 38", "high"),
    ("undisclosed_ai_content", "未标识数字人/AI生成内容", "Undisclosed AI content",
     "an AI presenter, voice or scene with no persistent visible label, or labels stripped",
     "AI-Generated Content Labelling Measures (2025-09-01); GB 45438-2025", "medium"),
    ("investment_guarantee", "收益保证", "Investment return guarantee",
     "guaranteed appreciation or returns on gold, collectibles, coins, franchises",
     "Advertising Law Art. 25", "high"),
    ("disparagement", "贬低竞品/商业诋毁", "Disparagement of competitors",
     "false or demeaning statements about identifiable competitors",
     "Advertising Law Art. 13", "medium"),
    ("fear_inducement", "制造焦虑恐慌", "Fear inducement",
     "fear about health or safety used to push a purchase, often aimed at the elderly",
     "provincial live-marketing guidelines", "medium"),
    ("off_platform_diversion", "私域引流", "Off-platform diversion",
     "steering viewers to private groups, private streams or chat apps to buy",
     "Live-Commerce Supervision Measures (2026)", "medium"),
    ("claim_contradicts_listing", "宣称与商品信息不符", "Claim contradicts listing",
     "what is said on stream contradicts the registered product listing "
     "(material, origin, size, certification)",
     "Advertising Law Art. 28; E-Commerce Law Art. 17", "high"),
    ("ban_evasion", "黑名单主播换号复播（换马甲）", "Ban evasion by a blacklisted streamer",
     "a blacklisted streamer's face or voice on an account that is not one of their known, banned accounts",
     "Online Live-Streaming Marketing Measures (Trial, 2021) Art. 9 (platform blacklist); "
     "Live-Commerce Supervision Measures (2026) (no re-registration after blacklisting)", "high"),
)

LABELS: dict[str, Label] = {row[0]: Label(*row) for row in _ROWS}
# Decided by identity (gallery matches of faces and voices), not by any words: no rule, classifier
# output or dataset item carries these.
IDENTITY_ONLY = frozenset({"ban_evasion"})
TEXT_LABELS: tuple[str, ...] = tuple(lab for lab in LABELS if lab not in IDENTITY_ONLY)
# label -> the label it makes redundant on the same sentence: health food said to treat disease is
# `health_food_overclaim` (Advertising Law Art. 18, the specific article), not also
# `medical_claim_non_drug` (Art. 17). The corpus labels by it and the combined detector reports by it.
SUBSUMES: dict[str, str] = {"health_food_overclaim": "medical_claim_non_drug"}


def get_label(label_id: str) -> Label:
    """Return the label for `label_id`; ValueError naming the valid ids otherwise."""
    try:
        return LABELS[label_id]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown label id {label_id!r}; valid ids: {', '.join(sorted(LABELS))}"
        ) from None
