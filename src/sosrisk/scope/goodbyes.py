"""Everyday goodbyes written by the sosrisk team from templates: hard negatives for the scope stage.

Weibo is full of goodbyes that have nothing to do with dying: a move to another city, a last day at work, a
shop closing, graduation, a parent leaving to work in another province, a pet given to a new home, an
account closed, a breakup's last message, a debt paid off, a handover of passwords, a long trip with no
signal, and jokes (我先走一步了, 遗言：记得帮我抢票). They use the very words of a suicidal farewell (最后一次,
以后不能陪你们了, 别找我, 东西都送人了, 谢谢你们的陪伴, 保重), so a sentence encoder puts them beside the team's
farewell templates (:mod:`sosrisk.scope.hard_positives`), and the plain-danger net, whose ordinary text is
reviews, news, jokes and chat, raised about a third of 80 such posts a helper wrote (docs/scope.md).

Every template names what the goodbye is for (a destination, a new job, a new owner, the end of a lease...),
because that is what tells it apart: a farewell with nowhere to go is not among them. They are written by
us, so they are used **for training only** (``ScopeSettings.goodbye_negatives``) and never count as evidence;
the posts that judge them are written by someone else. The sentences are built from slots with a fixed seed,
so the same version gives the same sentences on every machine; change :data:`VERSION` whenever a template or
a slot changes.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from .hard_negatives import draw_distinct

VERSION = "goodbyes-1"

_SIGNOFF = [
    "",
    "，再见啦",
    "，江湖再见",
    "，有缘再见",
    "，大家保重",
    "，后会有期",
    "，勿念",
    "，会想你们的",
    "👋",
    "，常联系呀",
    "，爱你们",
    "～",
    "！",
    "，冲鸭",
    "，祝大家都好",
]
_CITIES = ["成都", "杭州", "深圳", "老家", "西安", "青岛", "昆明", "重庆", "厦门", "南京", "哈尔滨", "大理"]
_ABROAD = ["德国", "日本", "澳洲", "加拿大", "英国", "新加坡", "荷兰", "新西兰"]
_THINGS = [
    "沙发和餐桌",
    "一柜子的书",
    "电饭煲和微波炉",
    "那辆旧自行车",
    "绿萝和多肉",
    "健身卡",
    "猫爬架",
    "攒了几年的手办",
    "冬天的厚被子",
    "洗衣机",
]
_TAKERS = ["楼下的邻居", "室友", "同事小刘", "表妹", "闲鱼上的买家", "楼里的保洁阿姨", "学弟学妹", "朋友"]
_TOGETHER = ["撸串", "打羽毛球", "周末爬山", "开黑", "去吃那家火锅", "夜跑", "打麻将", "逛夜市"]


def _moving(rng: random.Random) -> str:
    years = rng.choice(["两", "三", "五", "七", "十"])
    where = rng.choice(_CITIES)
    openers = [
        f"在这个城市待了{years}年，下周搬去{where}了",
        f"明天退租，{years}年的出租屋就到这儿了，回{where}发展",
        f"房子卖掉了，月底全家搬去{where}",
        f"决定回{where}了，北漂{years}年到此为止",
        f"最后一晚睡在这间小屋，明早的车去{where}",
    ]
    middle = [
        f"{rng.choice(_THINGS)}都送给了{rng.choice(_TAKERS)}",
        "钥匙已经交给房东了",
        "能带走的只有两个行李箱",
        f"以后不能陪你们{rng.choice(_TOGETHER)}了",
        "房间搬空的那一刻有点想哭",
        f"{rng.choice(_THINGS)}挂闲鱼了，谁要私信",
    ]
    return f"{rng.choice(openers)}，{rng.choice(middle)}{rng.choice(_SIGNOFF)}"


def _abroad(rng: random.Random) -> str:
    country = rng.choice(_ABROAD)
    openers = [
        f"下个月去{country}读研了",
        f"签证下来了，九月飞{country}",
        f"外派{country}两年，明天的航班",
        f"全家移民{country}，手续都办好了",
        f"去{country}打工度假一年",
    ]
    middle = [
        "爸妈就拜托你们多去看看了",
        "家里的猫交给我妹养了",
        "手机号要停了，有事微信找我",
        f"以后过年不能陪你们{rng.choice(['守岁', '放烟花', '包饺子', '打牌'])}了",
        "走之前把能还的人情都还了",
        "到了给大家报平安",
        f"{rng.choice(_THINGS)}都留给{rng.choice(_TAKERS)}了",
    ]
    return f"{rng.choice(openers)}，{rng.choice(middle)}{rng.choice(_SIGNOFF)}"


def _parent_away(rng: random.Random) -> str:
    who = rng.choice(["爸爸", "妈妈", "我", "孩子他爸", "我和老公"])
    where = rng.choice(["广东", "上海", "新疆", "工地上", "外省", "浙江的厂里", "很远的城市"])
    child = rng.choice(["闺女", "儿子", "宝贝", "两个娃", "小家伙"])
    advice = [
        f"{child}在家要听奶奶的话",
        f"{child}要好好写作业，放假接你过来玩",
        f"以后{child}就拜托爷爷奶奶照顾了",
        f"{child}记得按时吃饭，每天晚上视频",
        f"不能陪{child}过生日了，礼物放在柜子里",
    ]
    return f"{who}明天{rng.choice(['去', '又要去'])}{where}打工了，{rng.choice(advice)}{rng.choice(_SIGNOFF)}"


def _last_day_work(rng: random.Random) -> str:
    place = rng.choice(["公司", "这家医院", "学校", "这个项目组", "银行", "报社", "这家店"])
    openers = [
        f"今天是在{place}的最后一天",
        f"正式离职了，在{place}干了{rng.choice(['三', '五', '八', '十二'])}年",
        "退休手续办完了，明天开始不用上班了",
        "辞职信交了，下周去新公司报到",
        "合同到期不续了，最后一天打卡",
    ]
    middle = [
        f"工作都交接给{rng.choice(['小王', '新同事', '接任的主管', '徒弟'])}了，账号密码也交代清楚了",
        "工位收拾干净了，绿植留给了隔壁",
        "谢谢大家这些年的照顾",
        "群就先退了，以后常约饭",
        "最后一次在食堂吃午饭，居然有点舍不得",
        "工牌交回去的时候手有点抖",
    ]
    return f"{rng.choice(openers)}，{rng.choice(middle)}{rng.choice(_SIGNOFF)}"


def _shop_closing(rng: random.Random) -> str:
    shop = rng.choice(["小店", "面馆", "咖啡馆", "书店", "花店", "理发店", "烘焙坊", "网店"])
    years = rng.choice(["三", "六", "九", "十五"])
    endings = [
        "月底正式关门",
        "这周日是最后一天营业",
        "房租涨了撑不下去，下个月停业",
        "店面转让了，明天起不再接单",
    ]
    middle = [
        "感谢老顾客们一路的支持",
        "会员卡里的余额可以来店里退",
        "剩下的货全部半价清仓",
        "以后大家在别处也要吃好喝好",
        "最后一锅汤请大家免费喝",
    ]
    return f"开了{years}年的{shop}{rng.choice(endings)}，{rng.choice(middle)}{rng.choice(_SIGNOFF)}"


def _graduation(rng: random.Random) -> str:
    openers = [
        "最后一次在宿舍楼下吃烧烤",
        "毕业典礼结束了，明天离校",
        "最后一晚睡在412的上铺",
        "学位证拿到手了，四年就这样结束了",
        "今天是班主任退休前的最后一节课",
        "最后一次穿校服拍合照",
    ]
    middle = [
        "舍友们各奔东西",
        "被子和台灯送给了学弟",
        "以后再也不用早起跑操了",
        "食堂阿姨多给了我一勺肉",
        "说好了每年都要聚一次",
        "有点舍不得这个破宿舍",
    ]
    return f"{rng.choice(openers)}，{rng.choice(middle)}{rng.choice(_SIGNOFF)}"


def _account(rng: random.Random) -> str:
    thing = rng.choice(["这个号", "这个小号", "公众号", "这个游戏号", "店铺账号", "这个博客", "直播间"])
    openers = [
        f"{thing}以后不更新了",
        f"{thing}下周注销",
        f"这是{thing}的最后一条",
        "游戏明天停服，最后一次上线",
        "退坑了，装备都送给公会的兄弟",
        "群主要退群了，群交给管理员",
    ]
    middle = [
        "要专心考研了",
        "工作太忙顾不上",
        "换了个新号，想找我的私信",
        f"谢谢大家{rng.choice(['三年', '五年', '这么久', '一路'])}的陪伴",
        "账号密码交给朋友打理了",
        "以后别@我了，看不到的",
    ]
    return f"{rng.choice(openers)}，{rng.choice(middle)}{rng.choice(_SIGNOFF)}"


def _breakup(rng: random.Random) -> str:
    openers = [
        "这是最后一次给你发消息了",
        "分手吧，我们到此为止",
        "东西都寄回给你了",
        "删了吧，以后各自安好",
        "七年的朋友，今天算是走到头了",
        "把你送的礼物都还回去了",
    ]
    middle = [
        "以后别再找我了",
        "祝你和她幸福",
        "我会好好过自己的日子",
        "不用回",
        "谢谢你陪我走过的这两年",
        "我换新工作了，不会再见面",
    ]
    return f"{rng.choice(openers)}，{rng.choice(middle)}{rng.choice(_SIGNOFF)}"


def _pet_or_thing(rng: random.Random) -> str:
    item = rng.choice(["狗狗", "那只橘猫", "两只兔子", "鹦鹉", "开了十年的老车", "用了六年的旧手机", "老房子"])
    openers = [
        f"{item}送给了新主人",
        f"今天和{item}告别",
        f"{item}要去乡下的亲戚家了",
        f"{item}报废了，最后一次开它",
        f"搬家带不走{item}，找了个好人家",
    ]
    middle = [
        "以后不能天天陪着它了",
        "新主人说会经常发照片",
        "走的时候它一直回头看我",
        "谢谢你陪我这么多年",
        "周末还能去看它",
        "心里空落落的",
    ]
    return f"{rng.choice(openers)}，{rng.choice(middle)}{rng.choice(_SIGNOFF)}"


def _settled(rng: random.Random) -> str:
    openers = [
        "房贷终于还清了",
        "欠同学的钱今天全部还上了",
        "信用卡最后一期还完",
        "车贷结清，无债一身轻",
        "给爸妈买好了保险，受益人写了他们",
        "和老公一起去公证处立了遗嘱，三十岁了该规划了",
        "休产假前把工作都交接好了",
    ]
    middle = [
        "心里的石头落地了",
        "今晚加个鸡腿",
        "所有密码都记在本子上交给老婆了",
        "以后可以安心攒钱旅游了",
        "下一个目标是换车",
        "谁也不欠了，舒服",
    ]
    return f"{rng.choice(openers)}，{rng.choice(middle)}{rng.choice(_SIGNOFF)}"


def _off_grid(rng: random.Random) -> str:
    openers = [
        "明天进山拍鸟，半个月没信号",
        "入伍通知书到了，下周去部队报到",
        "上船了，跑远洋要大半年",
        "去南极科考站，明年春天回来",
        "考研最后一百天，卸载微博闭关",
        "去西藏支教一年",
        "手机要上交了，集训三个月",
    ]
    middle = [
        "有事别找我，找我也回不了",
        "消息都不会回",
        "家里就拜托大家照应",
        "回来请你们吃饭",
        "这段时间就当我消失了",
        "爸妈别担心",
    ]
    return f"{rng.choice(openers)}，{rng.choice(middle)}{rng.choice(_SIGNOFF)}"


def _discharge(rng: random.Random) -> str:
    openers = [
        "住了二十天院，今天出院了",
        "手术很成功，明天出院",
        "陪床一个月，我爸终于出院了",
        "最后一次复查，医生说不用再来了",
    ]
    middle = [
        "谢谢护士站的姐姐们",
        "再也不想见到这个病房了",
        "给医生送了面锦旗",
        "出门那一刻空气都是甜的",
        "回家第一件事是吃火锅",
    ]
    return f"{rng.choice(openers)}，{rng.choice(middle)}{rng.choice(_SIGNOFF)}"


def _joke(rng: random.Random) -> str:
    trouble = [
        "明天考高数",
        "体重又涨了五斤",
        "理发师把我的刘海剪没了",
        "甲方要改第九版",
        "昨晚喝断片了",
        "双十一把钱花光了",
        "论文查重百分之四十",
        "今天早八连上四节",
    ]
    punch = [
        "我先走一步了，遗言：记得帮我抢票",
        "后事就交给你们了，游戏账号归我弟",
        "永别了，我的发际线",
        "再见了这个世界，我要去睡十二个小时",
        "勿念，我去闭关了",
        "这是我的临终遗言：奶茶要三分糖",
        "人已经走了，有事烧纸",
        "我宣布我已经死了，明天再复活",
    ]
    tail = ["", "哈哈哈", "😂", "[doge]", "🤣", "[允悲]", "（不是）"]
    return f"{rng.choice(trouble)}，{rng.choice(punch)}{rng.choice(tail)}"


# family -> (builder, how many distinct sentences to draw)
FAMILIES: dict[str, tuple[Callable[[random.Random], str], int]] = {
    "moving": (_moving, 60),
    "abroad": (_abroad, 50),
    "parent_away": (_parent_away, 40),
    "last_day_at_work": (_last_day_work, 60),
    "shop_closing": (_shop_closing, 40),
    "graduation": (_graduation, 40),
    "account_closed": (_account, 50),
    "breakup": (_breakup, 40),
    "pet_or_thing": (_pet_or_thing, 40),
    "affairs_settled": (_settled, 40),
    "off_grid": (_off_grid, 40),
    "discharged": (_discharge, 20),
    "joke": (_joke, 60),
}


def goodbyes(seed: int = 0) -> list[tuple[str, str]]:
    """``(family, sentence)`` pairs, distinct, in a fixed order for a given ``seed``."""
    return draw_distinct(FAMILIES, random.Random(f"{VERSION}:{seed}"), str)
