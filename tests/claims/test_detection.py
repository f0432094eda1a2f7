import pytest

from claims import RuleSet


@pytest.fixture(scope="module")
def rules():
    return RuleSet.load_default()


POSITIVES = [
    # English
    ("this tea will cure your diabetes", "medical_claim_non_drug"),
    ("it lowers your blood pressure", "medical_claim_non_drug"),
    ("this tea brings your blood sugar down", "medical_claim_non_drug"),
    ("the best serum in the world", "absolute_terms"),
    ("the best serum in the world, period", "absolute_terms"),
    ("number one in the world", "absolute_terms"),
    ("guaranteed cure or your money back", "efficacy_guarantee"),
    ("no side effects at all", "efficacy_guarantee"),
    ("normally 1999 today only 99", "fake_price"),
    ("normally $1,999, today only $99", "fake_price"),
    ("only 50 left", "fake_scarcity"),
    ("only 50 left, never coming back", "fake_scarcity"),
    ("a million sold", "fake_social_proof"),
    ("a million sold, 100% five stars", "fake_social_proof"),
    ("I'm a retired army doctor", "false_authority_identity"),
    ("I'm a veteran, this is army special supply", "false_authority_identity"),
    ("works better than blood pressure pills", "health_food_overclaim"),
    ("works better than blood-pressure pills", "health_food_overclaim"),
    ("scan the code to join our group", "off_platform_diversion"),
    ("add me on whatsapp for the discount", "off_platform_diversion"),
    ("triples in two years, can't lose", "investment_guarantee"),
    # Chinese
    ("这个茶喝一个月血糖就降下来", "medical_claim_non_drug"),
    ("全网效果最好，没有之一", "absolute_terms"),
    ("全网最低价", "fake_price"),
    ("无效全额退款，保证根治", "efficacy_guarantee"),
    ("原价1999，今天只要99", "fake_price"),
    ("原价一千九百九十九今天只要九十九", "fake_price"),
    ("只剩最后50单，永不返场", "fake_scarcity"),
    ("已经卖了一百万单，好评率百分百", "fake_social_proof"),
    ("我是退伍老兵，这是部队特供", "false_authority_identity"),
    ("比降压药还管用", "health_food_overclaim"),
    ("扫码进群", "off_platform_diversion"),
    ("扫码进群，明天领一元鸡蛋", "off_platform_diversion"),
    ("这套纪念币两年翻三倍，稳赚不赔", "investment_guarantee"),
    ("两年翻三倍，稳赚不赔", "investment_guarantee"),
    ("这个茶能治疗糖尿病", "medical_claim_non_drug"),
    ("没有任何副作用", "efficacy_guarantee"),
]

EVASIONS = [
    ("治 疗糖尿病", "medical_claim_non_drug"),
    ("治*疗糖尿病", "medical_claim_non_drug"),
    ("zui低价", "fake_price"),
    ("ＺＵＩ低价", "fake_price"),
    ("加v信", "off_platform_diversion"),
    ("加 V 信", "off_platform_diversion"),
    ("加vx", "off_platform_diversion"),
    ("这個茶能治療糖尿病", "medical_claim_non_drug"),
    ("這個茶能治療糖尿病", "medical_claim_non_drug"),
    ("全網最低價", "fake_price"),
    ("THIS TEA WILL CURE YOUR DIABETES", "medical_claim_non_drug"),
]

HARD_NEGATIVES = [
    "这款是我们店销量最好的",
    "有问题可以七天无理由退货",
    "建议咨询医生",
    "这个不能代替药物",
    "这个茶不能治疗糖尿病",
    "我们店销量第一",
    "我最喜欢吃米饭",
    "他很有威信，要增加威信",
    "大家晚上好，今天天气很好",
    "今天卖了三件",
    "只有三个人在看",
    "大家加油",
    "你最好现在就下单",
    "please consult your doctor",
    "if you have high blood pressure please consult your doctor",
    "we have a 30-day return policy",
    "this is our best-selling item in the store",
    "the weather is the best today",
    "best wishes",
    "thank you very much",
    "this tea does not cure diabetes",
    "do not stop taking your medication",
    "it is not a substitute for medicine",
    "the best thing about this dress is the colour",
    "I can't lose weight no matter what",
    "bring the price down",
]


@pytest.mark.parametrize("text, label", POSITIVES + EVASIONS)
def test_positive_detected(rules, text, label):
    hits = rules.detect(text)
    assert label in {h.label for h in hits}, (text, hits)


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_hard_negative_silent(rules, text):
    assert rules.detect(text) == [], text


@pytest.mark.parametrize("text, label", POSITIVES + EVASIONS)
def test_hit_offsets_are_original(rules, text, label):
    for h in rules.detect(text):
        assert text[h.start:h.end] == h.text
        assert h.text.strip() == h.text and h.text
        assert 0 < h.score <= 1
        assert h.decided_by.startswith("rule:") and "@" in h.decided_by
        assert h.legal_basis


def test_spaced_evasion_maps_to_original(rules):
    text = "大家听好 这个能治 疗糖尿病"
    (hit,) = [h for h in rules.detect(text) if h.label == "medical_claim_non_drug"]
    assert "治 疗" in hit.text
    assert hit.text == text[hit.start:hit.end]


def test_traditional_maps_to_original(rules):
    text = "這個茶能治療糖尿病"
    (hit,) = rules.detect(text)
    assert hit.text == "治療糖尿病"
    assert hit.label == "medical_claim_non_drug"


def test_substitution_maps_to_original(rules):
    text = "想要的加 V 信"
    (hit,) = rules.detect(text)
    assert hit.label == "off_platform_diversion"
    assert hit.text.endswith("V 信")


def test_disclaimer_does_not_excuse_following_claim(rules):
    hits = rules.detect("这个不能代替药物，但是它能治糖尿病")
    assert [h.label for h in hits] == ["medical_claim_non_drug"]


def test_lang_filter(rules):
    assert rules.detect("全网最低价", lang="en") == []
    assert rules.detect("only 50 left", lang="zh") == []
    assert rules.detect("only 50 left", lang="en")
    with pytest.raises(ValueError):
        rules.detect("x", lang="fr")


def test_one_hit_per_overlapping_rule_span(rules):
    hits = rules.detect("保证根治")
    spans = [(h.label, h.start, h.end) for h in hits]
    assert len(spans) == len(set(spans))
    same = [h for h in hits if h.label == "efficacy_guarantee"]
    assert len(same) == 1


def test_hits_sorted(rules):
    hits = rules.detect("我是退伍老兵，这是部队特供，全网最低价，只剩最后50单")
    assert [h.start for h in hits] == sorted(h.start for h in hits)
    assert {"false_authority_identity", "fake_price", "fake_scarcity"} <= {h.label for h in hits}


def test_every_rule_id_unique_and_prefixed(rules):
    ids = [r.id for r in rules.rules]
    assert len(ids) == len(set(ids))
    for r in rules.rules:
        assert r.id.startswith(r.lang + ".")
