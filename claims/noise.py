"""ASR-style noise for Chinese training text: near-sound character substitutions, lost punctuation.

Whisper writes a word it half-heard as a character that sounds the same or close
(「治疗」 -> 「治了」, 「血糖」 -> 「雪糖」, 「微信」 -> 「威信」), and it rarely punctuates live talk. The
table below pairs characters that carry claims with characters of the same or a near reading; a
variant replaces each listed character with probability `rate` and drops punctuation.
Variants are made for lawful and violating items alike, so noise never signals a label.
(English noise comes from real speech recognition: scripts/asr_roundtrip.py speaks English items
with espeak-ng and transcribes them with Whisper base.)
"""
from __future__ import annotations

import random
import re

__all__ = ["NEAR_SOUND", "zh_asr_variant"]

# character -> characters of the same or a near Mandarin reading (tones may differ)
NEAR_SOUND: dict[str, str] = {
    "治": "制志质", "疗": "了料聊", "病": "并饼", "血": "雪穴", "糖": "唐堂", "压": "鸭押", "降": "将酱",
    "药": "要耀", "效": "笑校", "癌": "挨哀", "症": "正政", "医": "一衣依", "生": "声升", "专": "砖转",
    "家": "加佳", "最": "罪醉", "第": "地弟", "唯": "维惟", "原": "元圆园", "价": "假架", "只": "之知",
    "剩": "胜盛", "抢": "强枪", "限": "线现", "量": "亮两", "微": "威薇", "信": "心新", "群": "裙",
    "私": "丝思", "聊": "辽", "号": "好豪", "保": "宝饱", "证": "正政", "退": "推腿", "款": "宽",
    "根": "跟", "除": "厨", "副": "付富", "作": "做坐", "用": "拥", "国": "果", "际": "记技", "进": "近劲",
    "口": "扣", "正": "整政", "宗": "踪总", "利": "力立", "翻": "反番", "倍": "被贝", "赚": "转",
    "赔": "陪培", "稳": "问吻", "涨": "张长", "假": "价架", "货": "或获", "部": "不步", "队": "对兑",
    "特": "特忒", "供": "工公", "军": "君均", "官": "关观",
    "授": "受兽", "教": "叫较", "院": "元愿", "士": "是市", "卖": "买麦", "单": "担丹", "销": "消萧",
    "评": "平瓶", "明": "名鸣", "星": "心新", "检": "减简", "测": "侧策", "认": "任", "遗": "一移",
    "承": "成城", "奖": "讲蒋", "堵": "赌读", "死": "四似", "险": "显线", "怕": "帕", "吃": "池迟",
    "喝": "和河", "瘦": "受兽", "减": "检简", "肥": "非飞", "斤": "今金", "湿": "诗失",
    "疹": "诊枕", "痘": "豆逗", "斑": "班般", "皱": "周", "纹": "文闻", "炎": "言严", "痛": "通同",
    "失": "诗湿", "眠": "棉免", "钙": "盖", "骨": "古谷", "康": "抗慷", "复": "付富", "养": "样痒",
    "讲": "奖将", "课": "科可", "诊": "枕疹", "费": "非飞", "送": "宋", "码": "马吗", "链": "连恋",
}
_PUNCT = re.compile(r"[，。！？、；：,.!?;:~～…]+")


def zh_asr_variant(text: str, rng: random.Random, rate: float = 0.35) -> str:
    """`text` as a recogniser might have written it (punctuation to spaces, near-sound characters)."""
    out = []
    for ch in _PUNCT.sub(" ", text):
        alts = NEAR_SOUND.get(ch)
        out.append(rng.choice(alts) if alts and rng.random() < rate else ch)
    return re.sub(r"\s+", " ", "".join(out)).strip()
