"""Every sample of CLAIMS_TAXONOMY.md (zh and en) is caught; its hard negatives are not flagged."""
import pytest

from claims import CombinedDetector, Listing, RuleDetector

SAMPLES = [
    ("absolute_terms", "全网效果最好，没有之一"), ("absolute_terms", "the best serum in the world, period"),
    ("medical_claim_non_drug", "这个茶喝一个月血糖就降下来"),
    ("medical_claim_non_drug", "this tea brings your blood sugar down"),
    ("health_food_overclaim", "比降压药还管用"), ("health_food_overclaim", "works better than blood-pressure pills"),
    ("efficacy_guarantee", "无效全额退款，保证根治"), ("efficacy_guarantee", "guaranteed cure or your money back"),
    ("disguised_health_ad", "今天是养生课不卖货，想要的私信我"),
    ("disguised_health_ad", "this is a wellness class, not a sale; DM me"),
    ("fake_price", "原价1999，今天只要99"), ("fake_price", "normally 1,999, today only 99"),
    ("fake_scarcity", "只剩最后50单，永不返场"), ("fake_scarcity", "only 50 left, never coming back"),
    ("fake_social_proof", "已经卖了一百万单，好评率百分百"), ("fake_social_proof", "a million sold, 100% five stars"),
    ("false_origin_cert", "正宗日本原装进口"), ("false_origin_cert", "genuine import straight from Japan"),
    ("false_authority_identity", "我是退伍老兵，这是部队特供"),
    ("false_authority_identity", "I'm a veteran, this is army special supply"),
    ("ai_impersonation", "大家好，我是知名主持人李梅"),
    ("undisclosed_ai_content", "我是真人主播，不是AI"),
    ("investment_guarantee", "这套纪念币两年翻三倍，稳赚不赔"),
    ("investment_guarantee", "triples in two years, can't lose"),
    ("disparagement", "隔壁直播间卖的全是假货"), ("disparagement", "everything next door is fake"),
    ("fear_inducement", "不吃这个半年内血管就堵死"),
    ("fear_inducement", "skip this and your arteries clog within six months"),
    ("off_platform_diversion", "扫码进群，明天领一元鸡蛋"),
    ("off_platform_diversion", "scan to join the group for one-yuan eggs"),
]
EVASIONS = [("medical_claim_non_drug", "这个能治 疗糖尿病"), ("off_platform_diversion", "加V信"),
            ("fake_price", "zui低价"), ("off_platform_diversion", "想要的加 V 信")]
HARD_NEGATIVES = ["这款是我们店销量最好的", "有问题可以七天无理由退货", "建议咨询医生"]
# Ordinary talk near the rules added for the labels that had none: must stay silent.
ORDINARY = [
    "Hello everyone, this is our new spring collection", "hi guys, it's Friday!",
    "before it's too late in the evening let's do one more", "Welcome to my live room, everyone.",
    "this stream is hosted by an AI avatar, content is AI generated", "the lab report is on the product page",
    "the stream next door has nice dresses too", "本人不推荐大家买太多", "后悔莫及，质量太差",
    "本直播间为AI数字人主播，内容由AI生成", "检测报告放在详情页，大家可以自己看", "隔壁直播间的也不错，看个人喜欢",
    "天冷了，大家注意保暖", "健康问题请去正规医院",
]


@pytest.fixture(scope="module")
def rules():
    return RuleDetector()


@pytest.mark.parametrize("label, text", SAMPLES + EVASIONS)
def test_sample_caught(rules, label, text):
    assert label in {h.label for h in rules.detect(text)}, text


@pytest.mark.parametrize("text", HARD_NEGATIVES + ORDINARY)
def test_hard_negative_not_flagged(rules, text):
    assert rules.detect(text) == []


def test_listing_sample():
    r = CombinedDetector(RuleDetector()).classify(
        "这块料子是天丝的", listing=Listing.from_dict({"category": "apparel", "material": "100% cotton"}))
    assert r.labels == ("claim_contradicts_listing",)
