import pytest

from claims import normalize


@pytest.mark.parametrize("raw, expected", [
    ("治 疗糖尿病", "治疗糖尿病"),
    ("治*疗", "治疗"),
    ("治·疗", "治疗"),
    ("治_疗 糖-尿.病", "治疗糖尿病"),
    ("這個茶能治療糖尿病", "这个茶能治疗糖尿病"),
    ("ＶＩＰ　Ｇｒｏｕｐ", "vip group"),
    ("Hello    World", "hello world"),
    ("加v信", "加微信"),
    ("加 V 信", "加微信"),
    ("zui低价", "最低价"),
    ("加扣扣", "加qq"),
    ("赚米", "赚钱"),
])
def test_normalize_text(raw, expected):
    assert normalize(raw).text == expected


@pytest.mark.parametrize("raw", ["我最喜欢吃米饭", "一米八", "他很有威信", "要增加威信", "vxworks"])
def test_conservative_substitutions(raw):
    norm = normalize(raw).text
    assert "钱" not in norm and "微信" not in norm


def test_space_between_latin_words_kept():
    assert normalize("best  serum").text == "best serum"


def test_index_map_identity_lengths():
    raw = "原价 1999，今天只要99"
    n = normalize(raw)
    assert len(n.spans) == len(n.text)
    for i in range(len(n.text)):
        s, e = n.to_original(i, i + 1)
        assert 0 <= s < e <= len(raw)


def test_index_map_back_to_original():
    raw = "大家看 治 疗糖尿病 效果好"
    n = normalize(raw)
    i = n.text.index("治疗")
    s, e = n.to_original(i, i + 2)
    assert raw[s:e] == "治 疗"


def test_index_map_substitution_covers_source():
    raw = "快加 V 信 领福利"
    n = normalize(raw)
    i = n.text.index("微信")
    s, e = n.to_original(i, i + 2)
    assert raw[s:e] == "V 信"
    s, e = n.to_original(i, i + 1)  # first char of a replacement maps to the whole source
    assert raw[s:e] == "V 信"


def test_to_original_bounds():
    n = normalize("abc")
    assert n.to_original(3, 3) == (3, 3)
    with pytest.raises(IndexError):
        n.to_original(2, 5)


@pytest.mark.parametrize("raw, expected", [
    ("zhi疗糖尿病", "治疗糖尿病"), ("进qun", "进群"), ("退kuan", "退款"), ("最dī价", "最低价"),
    ("稳zhuan不赔", "稳赚不赔"), ("jia货", "假货"), ("te供", "特供"), ("加威❤", "加微信"),
    ("t.e.n.c.e.l", "tencel"), ("W-h-a-t-s-A-p-p", "whatsapp"), ("c u r e s", "cures"),
])
def test_pinyin_and_spelled_out_evasion(raw, expected):
    assert normalize(raw).text == expected


@pytest.mark.parametrize("raw", ["i.e. a.m.", "I a m here", "a b c", "zhihu", "下单", "小号", "加裙子", "u s"])
def test_spelled_out_rule_leaves_ordinary_text(raw):
    assert normalize(raw).text == raw.lower()


def test_spelled_out_maps_to_original():
    n = normalize("add me on W-h-a-t-s-A-p-p now")
    i = n.text.index("whatsapp")
    s, e = n.to_original(i, i + len("whatsapp"))
    assert n.original[s:e] == "W-h-a-t-s-A-p-p"
