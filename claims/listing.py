"""Product-listing checks: spoken claims that contradict the listing of the product on sale.

`Listing.from_dict` validates the listing JSON a platform registers for a product:

    {"category": "apparel", "material": "100% cotton", "origin": "中国浙江",
     "certifications": ["SC", "ISO9001"], "price": 129, "prices": [129, 99], "stock": 5000}

(every field optional; unknown fields are an error, so a typo is not silently ignored).
`check_listing(text, listing, hits)` returns `ListingFinding`s:

  material     a fibre claimed on stream (天丝 / tencel, 真丝 / silk, 纯棉 / "100% cotton", ...)
               that the listing's material does not contain, or "pure X" when X < 100%
  origin       a foreign origin or import claimed (日本进口 / "imported from Japan") when the
               listing's origin is another country
  price        a reference price (原价 / "originally" / 专柜价 ...) above every listed price
  certification a certificate, patent, test or award claimed that the listing does not list
  stock        "only N left" while the listing holds more than twice N
  category     a medical claim (found by the other detectors) on a product whose category is
               food, cosmetics or another non-drug category -> medical_claim_non_drug with the
               listing as evidence. For category "drug" the caller drops medical_claim_non_drug.

Each finding's `decided_by` is "listing:<check>@<LISTING_CHECK_VERSION>".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from liveguard.errors import ConfigError

from .normalize import normalize
from .taxonomy import LABELS
from .types import ClaimHit

LISTING_CHECK_VERSION = "1"
CATEGORIES = ("food", "health_food", "cosmetics", "apparel", "drug", "medical_device", "collectible",
              "electronics", "household", "other")
NON_DRUG_CATEGORIES = frozenset(CATEGORIES) - {"drug", "medical_device", "health_food"}
MEDICAL_LABELS = frozenset({"medical_claim_non_drug", "health_food_overclaim"})
FIELDS = {"title", "category", "material", "origin", "certifications", "price", "prices", "stock", "id", "sku"}
MAX_TEXT_FIELD = 2000
STOCK_SLACK = 2  # "only N left" contradicts a listed stock above STOCK_SLACK * N (sales happen mid-stream)

# canonical fibre -> pattern (runs on normalised, lowercase text)
FIBRES = {
    "cotton": r"(?:棉|cotton)",
    "lyocell": r"(?:天丝|莱赛尔|tencel|lyocell)",
    "silk": r"(?:真丝|桑蚕丝|蚕丝|(?<![a-z])silk(?![a-z]))",
    "cashmere": r"(?:羊绒|cashmere)",
    "wool": r"(?:羊毛|(?<![a-z])wool(?![a-z])|merino)",
    "linen": r"(?:亚麻|(?<![a-z])linen(?![a-z]))",
    "modal": r"(?:莫代尔|(?<![a-z])modal(?![a-z]))",
    "polyester": r"(?:涤纶|聚酯|polyester)",
    "leather": r"(?:真皮|牛皮|羊皮|(?<![a-z])leather(?![a-z]))",
}
# what counts as CLAIMING a fibre on stream: cotton needs a material word (棉 alone is in 棉袄)
_FIBRE_CLAIM = dict(FIBRES, cotton=r"(?:纯棉|全棉|棉质|棉的|100%\s*棉|(?<![a-z])cotton(?![a-z]))")
_PURE = r"(?:纯|全|100\s*%\s*|百分之百|pure\s+|100\s*(?:%|percent)\s+)"
COUNTRIES = {
    "china": r"(?:中国|国产|大陆|china|chinese|domestic|山东|浙江|广东|福建|云南|江苏|新疆|四川|河北|河南|湖南|湖北|上海|北京)",
    "japan": r"(?:日本|japan(?:ese)?)",
    "korea": r"(?:韩国|korea(?:n)?)",
    "france": r"(?:法国|france|french)",
    "germany": r"(?:德国|germany|german)",
    "italy": r"(?:意大利|italy|italian)",
    "switzerland": r"(?:瑞士|switzerland|swiss)",
    "usa": r"(?:美国|(?<![a-z])usa(?![a-z])|(?<![a-z])u\.s\.|america(?:n)?|united states)",
    "uk": r"(?:英国|(?<![a-z])uk(?![a-z])|britain|british|england)",
    "australia": r"(?:澳洲|澳大利亚|australia(?:n)?)",
    "new_zealand": r"(?:新西兰|new zealand)",
    "thailand": r"(?:泰国|thailand|thai)",
}
_ORIGIN_CUE = r"(?:进口|原装|原产|产地|产自|直邮|海淘|made in|imported|import|from|origin)"
CERTS = {
    "fda": r"(?<![a-z])fda(?![a-z])",
    "ce": r"(?<![a-z])ce(?![a-z])(?:认证| mark| certified)?",
    "iso": r"(?<![a-z])iso(?![a-z])\s?\d*",
    "organic": r"(?:有机认证|有机食品|\borganic\b)",
    "patent": r"(?:专利|patent)",
    "sgs": r"(?<![a-z])sgs(?![a-z])",
    "gmp": r"(?<![a-z])gmp(?![a-z])",
    "health_food_approval": r"(?:蓝帽子?|保健食品批号|健字号)",
    "special_cosmetic": r"(?:特证|特殊用途化妆品|国妆特字)",
    "green_food": r"绿色食品",
    "heritage": r"(?:非遗|heritage)",
    "award": r"(?:金奖|诺贝尔|nobel|(?:government|national) award|award[- ]winning)",
    "clinical": r"(?:临床(?:验证|认证|试验)|clinical(?:ly)? (?:proven|tested|certified|certification))",
}
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_NUM = r"(?:[0-9][0-9,]*(?:\.[0-9]+)?|[零〇一二两三四五六七八九十百千万]+)"
_REF_PRICE = re.compile(
    r"(?:原价|原来卖|原来要|原来|专柜价|专柜|市场价|吊牌价|平时卖|平时都卖|之前卖|门店价"
    r"|originally|normally|regular(?:ly)?(?: price)?|retail(?:s| price| is)?|list price|used to be|was)"
    rf"\s*(?:是|要|卖|都是|at|for)?\s*(?:\$|￥|¥|rmb\s*)?(?P<num>{_NUM})"
)
_ONLY_LEFT = re.compile(
    rf"(?:只剩|仅剩|就剩|只有|库存只剩|最后)\s*(?:最后)?\s*(?P<zh>{_NUM})\s*(?:件|单|个|份|瓶|盒|套)"
    rf"|\bonly\s+(?P<en>[0-9]+)\s+(?:\w+\s+)?left\b"
)


class ListingError(ConfigError):
    """A listing JSON object has a missing, unknown or invalid field."""


def parse_number(s: str) -> float:
    """'1,999' -> 1999, '一千九百九十九' -> 1999, '三千八' -> 3800, '两万五' -> 25000."""
    s = s.replace(",", "")
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", s):
        return float(s)
    total, section, digit, last_unit = 0, 0, None, 1
    for ch in s:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            unit = _CN_UNITS[ch]
            if unit == 10000:
                total += (section + (digit or 0)) * unit
                section, digit, last_unit = 0, None, unit
            else:
                section += (1 if digit is None else digit) * unit
                digit, last_unit = None, unit
        else:
            raise ValueError(f"not a number: {s!r}")
    if digit is not None:  # trailing digit: 三千八 means 3800, 两万五 means 25000
        section += digit * (last_unit // 10 if last_unit >= 100 else 1)
    return float(total + section)


@dataclass(frozen=True)
class Listing:
    category: str | None = None
    material: str | None = None
    origin: str | None = None
    certifications: tuple[str, ...] = ()
    prices: tuple[float, ...] = ()
    stock: int | None = None
    title: str | None = None

    @classmethod
    def from_dict(cls, d: object) -> "Listing":
        if not isinstance(d, dict):
            raise ListingError("listing must be a JSON object")
        unknown = sorted(set(d) - FIELDS)
        if unknown:
            raise ListingError(f"unknown listing field(s) {unknown}; valid: {', '.join(sorted(FIELDS))}")
        cat = d.get("category")
        if cat is not None and cat not in CATEGORIES:
            raise ListingError(f"listing.category {cat!r} not one of {', '.join(CATEGORIES)}")
        for key in ("material", "origin", "title"):
            v = d.get(key)
            if v is not None and (not isinstance(v, str) or len(v) > MAX_TEXT_FIELD):
                raise ListingError(f"listing.{key} must be a string of at most {MAX_TEXT_FIELD} characters")
        certs = d.get("certifications", [])
        if not isinstance(certs, list) or not all(isinstance(c, str) for c in certs):
            raise ListingError("listing.certifications must be a list of strings")
        prices: list[float] = []
        for key in ("price", "prices"):
            raw = d.get(key)
            if raw is None:
                continue
            for p in raw if key == "prices" and isinstance(raw, list) else [raw]:
                if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1e9:
                    raise ListingError(f"listing.{key} must hold numbers >= 0, got {p!r}")
                prices.append(float(p))
            if key == "prices" and not isinstance(raw, list):
                raise ListingError("listing.prices must be a list of numbers")
        stock = d.get("stock")
        if stock is not None and (isinstance(stock, bool) or not isinstance(stock, int) or stock < 0):
            raise ListingError(f"listing.stock must be a non-negative integer, got {stock!r}")
        return cls(category=cat, material=d.get("material"), origin=d.get("origin"),
                   certifications=tuple(certs), prices=tuple(prices), stock=stock, title=d.get("title"))

    def fibres(self) -> dict[str, float]:
        """Fibre -> percent from the material text ('95% polyester, 5% spandex'); 100 when unstated."""
        if not self.material:
            return {}
        text = self.material.lower()
        out: dict[str, float] = {}
        for fibre, pat in FIBRES.items():
            m = re.search(rf"([0-9]+(?:\.[0-9]+)?)\s*%\s*{pat}|{pat}\s*([0-9]+(?:\.[0-9]+)?)\s*%", text)
            if m:
                out[fibre] = float(m.group(1) or m.group(2))
            elif re.search(pat, text):
                out[fibre] = 100.0 if not re.search(r"[0-9]\s*%", text) else 99.0  # present, share unknown
        return out

    def country(self) -> str | None:
        if not self.origin:
            return None
        text = self.origin.lower()
        foreign = [c for c, pat in COUNTRIES.items() if c != "china" and re.search(pat, text)]
        if foreign:
            return foreign[0]
        return "china" if re.search(COUNTRIES["china"], text) else None


@dataclass(frozen=True)
class ListingFinding:
    hit: ClaimHit
    evidence: str  # what in the listing the claim contradicts, for the moderator


def _finding(norm, s, e, check, evidence, label="claim_contradicts_listing", score=0.9) -> ListingFinding:
    os_, oe = norm.to_original(s, e)
    hit = ClaimHit(label=label, start=os_, end=oe, text=norm.original[os_:oe], score=score,
                   decided_by=f"listing:{check}@{LISTING_CHECK_VERSION}", legal_basis=LABELS[label].legal_basis)
    return ListingFinding(hit, evidence)


def _check_material(norm, listing: Listing) -> list[ListingFinding]:
    listed = listing.fibres()
    if not listed:
        return []
    out = []
    for fibre, pat in _FIBRE_CLAIM.items():
        for m in re.finditer(pat, norm.text):
            pure_m = re.search(_PURE + r"$", norm.text[max(0, m.start() - 8):m.start()])
            pure = bool(pure_m) or m.group().startswith(("纯", "全", "100"))
            share = listed.get(fibre, 0.0)
            if share <= 0 or (pure and share < 100):
                s = m.start() - (len(pure_m.group()) if pure_m else 0)
                out.append(_finding(norm, s, m.end(), "material",
                                    f"listing material is {listing.material!r}"))
                break
    return out


def _check_origin(norm, listing: Listing) -> list[ListingFinding]:
    listed = listing.country()
    if listed is None or not re.search(_ORIGIN_CUE, norm.text):
        return []
    out = []
    for country, pat in COUNTRIES.items():
        if country == "china" or country == listed:
            continue
        m = re.search(pat, norm.text)
        if m:
            out.append(_finding(norm, m.start(), m.end(), "origin", f"listing origin is {listing.origin!r}"))
    return out


def _check_price(norm, listing: Listing) -> list[ListingFinding]:
    if not listing.prices:
        return []
    top = max(listing.prices)
    for m in _REF_PRICE.finditer(norm.text):
        try:
            ref = parse_number(m.group("num"))
        except ValueError:
            continue
        if ref > top:
            return [_finding(norm, m.start(), m.end(), "price",
                             f"reference price {ref:g} is above every listed price (max {top:g})")]
    return []


def _check_certs(norm, listing: Listing) -> list[ListingFinding]:
    listed = " ".join(listing.certifications).lower()
    out = []
    for cert, pat in CERTS.items():
        m = re.search(pat, norm.text)
        if m and not re.search(pat, listed):
            shown = ", ".join(listing.certifications) or "none"
            out.append(_finding(norm, m.start(), m.end(), "certification",
                                f"{cert!r} claimed; listing certifications: {shown}"))
    return out


def _check_stock(norm, listing: Listing) -> list[ListingFinding]:
    if listing.stock is None:
        return []
    for m in _ONLY_LEFT.finditer(norm.text):
        try:
            n = parse_number(m.group("zh") or m.group("en"))
        except ValueError:
            continue
        if listing.stock > STOCK_SLACK * n:
            return [_finding(norm, m.start(), m.end(), "stock", f"listing stock is {listing.stock}")]
    return []


def _check_category(listing: Listing, hits: Iterable[ClaimHit]) -> list[ListingFinding]:
    if listing.category not in NON_DRUG_CATEGORIES:
        return []
    out = []
    for h in hits:
        if h.label in MEDICAL_LABELS:
            out.append(ListingFinding(
                ClaimHit(label="medical_claim_non_drug", start=h.start, end=h.end, text=h.text, score=max(h.score, 0.9),
                         decided_by=f"listing:category.non_drug@{LISTING_CHECK_VERSION}",
                         legal_basis=LABELS["medical_claim_non_drug"].legal_basis),
                f"medical claim for a product whose listing category is {listing.category!r}"))
            break
    return out


def confirmed_origin(text: str, listing: Listing) -> bool:
    """True when every origin the text claims (with an origin cue) is the listing's own origin.

    「日本原装进口」 said while selling a listing whose origin is Japan is a checkable, true
    statement: the combined detector then drops the text rule's `false_origin_cert` hit for it.
    """
    listed = listing.country()
    norm = normalize(text).text
    if listed is None or listed == "china" or not re.search(_ORIGIN_CUE, norm):
        return False
    claimed = {c for c, pat in COUNTRIES.items() if c != "china" and re.search(pat, norm)}
    return claimed == {listed} and not any(re.search(pat, norm) for pat in CERTS.values())


def check_listing(text: str, listing: Listing, hits: Iterable[ClaimHit] = ()) -> list[ListingFinding]:
    """Findings for `text` said while selling `listing`; `hits` are other detectors' hits on it."""
    norm = normalize(text)
    found = (_check_material(norm, listing) + _check_origin(norm, listing) + _check_price(norm, listing)
             + _check_certs(norm, listing) + _check_stock(norm, listing) + _check_category(listing, hits))
    return sorted(found, key=lambda f: (f.hit.start, f.hit.label))
