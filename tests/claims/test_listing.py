import pytest

from claims import Listing, ListingError, RuleDetector, check_listing
from claims.listing import parse_number

COTTON = Listing.from_dict({"category": "apparel", "material": "100% cotton", "origin": "中国浙江", "price": 129})


def labels(text, listing, hits=()):
    return [(f.hit.label, f.hit.decided_by.split("@")[0]) for f in check_listing(text, listing, hits)]


@pytest.mark.parametrize("text", ["这块料子是天丝的", "这块料子是天 丝的", "this fabric is tencel", "纯真丝面料"])
def test_material_contradiction(text):
    (f,) = check_listing(text, COTTON)
    assert f.hit.label == "claim_contradicts_listing" and f.hit.decided_by == "listing:material@1"
    assert "100% cotton" in f.evidence
    assert text[f.hit.start:f.hit.end] == f.hit.text


def test_material_consistent_and_pure_claims():
    assert check_listing("这款是纯棉的", COTTON) == []
    blend = Listing.from_dict({"material": "60% cotton, 40% polyester"})
    assert labels("这款是纯棉的", blend) == [("claim_contradicts_listing", "listing:material")]
    assert labels("100% cotton, feel it", blend) == [("claim_contradicts_listing", "listing:material")]
    assert check_listing("this one has cotton in it", blend) == []


def test_origin():
    assert labels("这款是日本进口的", COTTON) == [("claim_contradicts_listing", "listing:origin")]
    assert labels("imported from Japan", COTTON) == [("claim_contradicts_listing", "listing:origin")]
    japan = Listing.from_dict({"origin": "Japan"})
    assert check_listing("日本原装进口", japan) == []
    assert check_listing("我去过日本旅游", COTTON) == []  # no origin cue
    assert check_listing("日本进口", Listing()) == []      # origin unknown: nothing to contradict


def test_price():
    food = Listing.from_dict({"prices": [59, 69]})
    assert labels("原价1999，今天59", food) == [("claim_contradicts_listing", "listing:price")]
    assert labels("原价一千九百九十九今天五十九", food) == [("claim_contradicts_listing", "listing:price")]
    assert labels("originally $1,288, yours for $59", food) == [("claim_contradicts_listing", "listing:price")]
    assert check_listing("原价69，今天59", food) == []


def test_certification_and_stock():
    food = Listing.from_dict({"category": "food", "certifications": ["SC", "ISO9001"], "stock": 5000})
    assert labels("这个酵素有FDA认证", food) == [("claim_contradicts_listing", "listing:certification")]
    assert check_listing("我们有ISO9001认证", food) == []
    assert labels("只剩最后50单了", food) == [("claim_contradicts_listing", "listing:stock")]
    assert labels("only 20 left in stock", food) == [("claim_contradicts_listing", "listing:stock")]
    assert check_listing("只剩最后50单了", Listing.from_dict({"stock": 60})) == []


def test_category_medical_claim_on_food():
    rules = RuleDetector()
    text = "这个茶能治疗糖尿病"
    food = Listing.from_dict({"category": "food"})
    found = check_listing(text, food, rules.detect(text))
    assert [(f.hit.label, f.hit.decided_by) for f in found] == [("medical_claim_non_drug", "listing:category.non_drug@1")]
    assert "'food'" in found[0].evidence
    assert check_listing(text, Listing.from_dict({"category": "drug"}), rules.detect(text)) == []
    assert check_listing("这个茶很好喝", food, rules.detect("这个茶很好喝")) == []


@pytest.mark.parametrize("bad, msg", [
    ([], "object"),
    ({"colour": "red"}, "unknown listing field"),
    ({"category": "weapons"}, "category"),
    ({"price": "cheap"}, "price"),
    ({"price": -1}, "price"),
    ({"prices": 5}, "prices"),
    ({"stock": 1.5}, "stock"),
    ({"certifications": "FDA"}, "certifications"),
    ({"material": 100}, "material"),
])
def test_listing_validation(bad, msg):
    with pytest.raises(ListingError, match=msg):
        Listing.from_dict(bad)


@pytest.mark.parametrize("s, n", [("1,999", 1999), ("一千九百九十九", 1999), ("三千八", 3800), ("两万五", 25000),
                                  ("十", 10), ("五十", 50), ("一百二十九", 129), ("99.5", 99.5)])
def test_parse_number(s, n):
    assert parse_number(s) == n
