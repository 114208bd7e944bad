"""The safety-net rules: what fires, what never fires, and that a hit can only raise."""

from __future__ import annotations

import re

import numpy as np
import pytest

from scope_support import tiny_scoped_model
from sosrisk.scope.rules import (
    RULE_SET,
    RULES_VERSION,
    about_someone_else,
    families,
    has_context_cue,
    match_rules,
    rule_floors,
)


@pytest.mark.parametrize(
    ("text", "rule", "floor"),
    [
        ("我刚吃了一整瓶安眠药，头好晕，对不起大家", "overdose_taken", 10),
        ("刚喝了半瓶农药，肚子好疼", "poison_taken", 10),
        ("吞了五十多片安眠药，现在眼睛睁不开了", "overdose_taken", 10),
        ("手腕已经割开了，血止不住", "cut_now", 10),
        ("现在站在天台边上，往下看一点都不怕", "at_the_edge", 10),
        ("炭已经点上了，门窗都封好了", "gas_or_charcoal_lit", 10),
        ("这是我最后一条微博了，谢谢你们", "last_post", 8),
        ("遗书写好了，放在抽屉里", "note_written", 8),
        ("永别了，谢谢所有对我好的人", "goodbye_world", 8),
        ("明天晚上就从桥上跳下去", "time_and_act", 8),
        ("有人约烧炭吗，坐标成都", "pact", 6),
        ("怎么死最快不痛苦", "method_search", 6),
        # rules-4
        ("我已经站在河边了，水已经没过膝盖", "at_the_edge", 10),
        ("周五晚上一个人去江边，这次回不来了", "time_and_place", 8),
        ("我要去另一个世界了，你们忘了我吧", "gone_for_good", 8),
        ("等我不在了以后，我的遗物都捐掉吧", "after_i_am_gone", 8),
        ("狗狗就交给你了，永别了", "entrusting", 8),
        ("以后不会再发朋友圈了，感谢一直以来的陪伴", "no_more_posts", 8),
        # rules-5
        ("对不起，我先走了，照顾好爸妈", "goodbye_and_arrangements", 8),
        ("别找我了，银行卡密码在抽屉里", "goodbye_and_arrangements", 8),
        ("不要为我哭，下辈子我们再做一家人", "goodbye_and_arrangements", 8),
        # rules-6
        ("现在坐在楼顶的栏杆外面，脚下好高", "over_the_drop", 10),
        ("划了好几刀，血滴到地板上了", "cut_and_bleeding", 10),
        ("炭火在卫生间里烧着，门关好了", "charcoal_burning", 10),
        ("我在江里了，水已经没过胸口", "into_the_water", 10),
        # rules-7: a plain wish, level 4 only
        ("我好想死，每天醒来都很累", "first_person_wish", 4),
        ("撑了这么久，不想再活下去了", "first_person_wish", 4),
        ("真的活不下去了", "first_person_wish", 4),
        ("有时候真想结束这一切", "first_person_wish", 4),
        ("想自杀的念头又来了", "first_person_wish", 4),
        # rules-8
        ("一整瓶地西泮全吃了，好困", "overdose_taken", 10),
        ("一个人坐在铁轨上，等着火车开过来", "at_the_edge", 10),
        ("你们读到这里时，我可能已经离开这个世界", "goodbye_world", 8),
        ("对不起爸爸，不能再陪您走下去了", "goodbye_and_arrangements", 8),
        ("猫咪托付给室友照顾了，以后别再担心我", "entrusting", 8),
        ("绳子藏在衣柜里，周五晚上就动手", "means_hidden_and_time", 8),
        # rules-10
        ("刚才吞了四盒安定，眼皮越来越重", "boxes_of_pills_taken", 10),
        ("吃完两瓶药了，头好晕，再见", "boxes_of_pills_taken", 10),
        ("把自己锁在车里了，发动机一直开着", "exhaust_in_car", 10),
        ("绳子勒在脖子上了，凳子就在脚下", "noose_ready", 10),
        ("下周一就是我的最后一天，东西都收拾好了", "last_days", 8),
        ("再见了，这个冰冷的世界", "goodbye_world", 8),
        ("下辈子别再做您的女儿了，妈妈", "goodbye_and_arrangements", 8),
        # rules-11: a past attempt, then a time to come after a comma
        ("去年没死成，这周六晚上我就从阳台跳下去", "time_and_act", 8),
        ("以前一直没勇气，这次我已经吞了一整瓶安眠药", "overdose_taken", 10),
        # rules-14: means in use, told object first or from where the writer is
        ("翻过了天台的护栏，下面是十几层", "over_the_railing", 10),
        ("门缝用胶带封死了，燃气开着", "gas_in_closed_room", 10),
        ("车停在车库里，门关上了，车一直不熄火，头越来越晕", "engine_running_closed", 10),
        ("百草枯我已经喝下去了，嘴里全是苦味", "poison_then_taken", 10),
        ("一板阿普唑仑都吞下去了，意识有点模糊", "pills_then_taken", 10),
        ("躺在铁轨上，列车的灯越来越亮", "at_the_edge", 10),
        ("脖子伸进绳套了，凳子在晃", "noose_ready", 10),
        ("走进了水库里，水快没过脖子了", "into_the_water", 10),
        # rules-15: someone's words about a third person stop a rule only in their own part of the sentence
        ("男朋友说他不在乎我，遗书写好了", "note_written", 8),
        # rules-16: the writer named as the subject after someone else
        ("老公还在睡，我已经把一整瓶安眠药吃了", "overdose_taken", 10),
        ("我跟朋友说我明天就去跳楼", "time_and_act", 8),
        # rules-17: the writer's own act after a film or the news is named, or after introducing themself
        ("看了一部电影，哭完我就把一整瓶安眠药吃了", "overdose_taken", 10),
        ("新闻里都是别人的幸福，我今晚就去跳江", "time_and_act", 8),
        ("我是一名高三学生，今晚就去跳楼", "time_and_act", 8),
        # rules-19: holdout19's attempts and note in words the rules lacked
        ("坐在顶楼边沿，两条腿垂在外面，楼下的车像玩具", "over_the_drop", 10),
        ("我在海里一直往深处走，浪已经打到脸上了", "into_the_water", 10),
        ("把车开进了山里，排气管接了管子通进车窗", "exhaust_hose", 10),
        ("遗书压在书桌的台灯下面，你们记得看", "note_written", 8),
        # rules-20: holdout20's attempts and farewell in words the rules lacked
        ("浴缸里的水已经红了", "bath_turned_red", 10),
        ("躺在道口旁边的轨道上，耳朵贴着铁轨，能感觉到它在震", "at_the_edge", 10),
        ("小王，欠你的五百块转过去了，以后不用等我了", "goodbye_world", 8),
        # rules-21: 礼拜 as a weekday, a festival's night
        ("下个礼拜五晚上我就去烧炭", "time_and_act", 8),
        ("这礼拜天我就从天台跳下去", "time_and_act", 8),
        ("中秋节那晚，我就去跳江", "time_and_act", 8),
        # rules-23: a plan after a rescue, and after any past word with a time to come after the comma
        ("去年被救了，今晚我就去跳江", "time_and_act", 8),
        ("上个月洗胃了，过几天我还要去跳海", "time_and_act", 8),
        ("去年没死成，周五我就去跳楼", "time_and_act", 8),
        # rules-24: hanging without 上吊, another cord round the neck, a recorded note, the last update
        ("周五晚上我就用腰带把自己吊在阳台的晾衣杆上", "time_and_act", 8),
        ("充电线已经勒在脖子上了，手机快拿不住", "noose_ready", 10),
        ("遗书录好了，存在网盘里", "note_written", 8),
        ("这是我最后一次更新了，谢谢大家", "last_post", 8),
        # rules-25: a rescue hoped against is no past word; a plan's time and act far apart, across two commas
        ("今晚去跳江，希望别被救", "time_and_act", 8),
        ("明天我就去跳楼，不想被救上来", "time_and_act", 8),
        ("周四晚上轮到我一个人值班，整层楼没人，我就从楼顶跳下去", "time_and_act", 8),
        ("下周三发了工资，把房租交了，晚上我去江边跳下去", "time_and_place", 8),
        # rules-26: a rank (第一名) or 男子汉 is no news word that silences the post
        ("我考了全班第一名，可是今晚还是要去跳楼", "time_and_act", 8),
        ("男子汉又怎样，明天就去跳江", "time_and_act", 8),
        # rules-28: a poison drunk as the plan's method, named first or after; longer parts of a plan's sentence
        ("明晚等室友睡了，我就把抽屉里那瓶百草枯喝了", "time_and_act", 8),
        ("周六我就喝农药，谁也别拦我", "time_and_act", 8),
        ("明天一早我就把这瓶农药喝了", "time_and_act", 8),  # before rules-28 no rule fired
        ("喝了半瓶打果树的农药，肚子绞着疼", "poison_taken", 10),  # rules-29: the crop named, still an attempt
        ("下个月十号领了工资，把欠同学的钱一笔一笔都还清楚，当天晚上我就去江边跳下去", "time_and_act", 8),
        # rules-30: a quiet farewell: affairs settled and the writer gone from the days to come
        ("欠小王的三千块今天还清了，以后过年不能陪爸妈了", "settled_and_absent", 8),
        ("猫拜托给室友了，以后别再找我", "settled_and_absent", 8),
        ("游戏账号密码发给表弟了，这辈子就到这儿吧", "settled_and_absent", 8),
        ("谁都别怪，我走了", "goodbye_and_arrangements", 8),
        # rules-31: a grave and joining the dead; a car driven off a cliff, the writer after the plan's time
        ("清明去给爷爷扫墓，告诉他我马上就去陪他了", "joining_the_dead", 8),
        ("把儿子送回老家以后，周六晚上我就开车冲下山崖", "time_and_act", 8),
        ("房子留给你了，以后孩子都得你照顾，我撑不住了", "settled_and_absent", 8),
        # rules-32: a far place and how to live on; do not grieve for me; insulin all at once
        ("儿子，爸爸要去一个很远的地方了，以后要听妈妈的话，好好长大", "far_away_live_on", 8),
        ("存折密码写在日历背面，往后别惦记我", "settled_and_absent", 8),
        ("把冰箱里的胰岛素一口气全打进去了，现在一身冷汗", "insulin_overdose", 10),
        # rules-33: words before the last post's noun; 替我; a far place without 以后; the exhaust told as 尾气管
        ("这是我最后一次在这里发动态了，谢谢大家", "last_post", 8),
        ("房子钥匙给你了，以后别替我难过", "settled_and_absent", 8),
        ("闺女，爸爸要去很远的地方了，你要听妈妈的话", "far_away_live_on", 8),
        ("尾气管接进来了，车门都锁上了", "exhaust_hose", 10),
        # rules-34: charcoal bought then burnt; riding into the traffic; read after the writer is gone; the last thing
        ("下周五发了工资我就去买炭，回宿舍烧上", "time_and_act", 8),
        ("明晚我就骑摩托冲进对向车道", "time_and_act", 8),
        ("等你醒来我应该就不在了", "goodbye_world", 8),
        ("猫粮在柜子里，这是我最后放不下的事，拜托你了", "settled_and_absent", 8),
        # rules-35: into a lorry; the engine left running behind the garage door; a next life given; said plainly
        ("周六晚上我就骑车冲进大货车底下", "time_and_act", 8),
        ("明晚关上车库门发动车子一直开着", "time_and_act", 8),
        ("信在抽屉里，密码也写了，下辈子还给你们当儿子", "goodbye_and_arrangements", 8),
        ("我要去死了，别找我", "goodbye_world", 8),
        # rules-40: still a goodbye when said to people, or with no joke after it; a last post with no reason
        ("永别了，我的家人，对不起", "goodbye_world", 8),
        ("我先走一步了，你们好好的", "goodbye_world", 8),
        ("这是我最后一条微博了，对不起大家", "last_post", 8),
        # rules-41: quiet farewells
        ("这个世界我呆够了，相机留给你吧", "done_with_the_world", 8),
        ("我要去一个再也不会失眠的地方了", "painless_place", 8),
        ("晚安，永远的那种", "last_goodnight", 8),
        ("存款的事问我哥，后事也拜托他帮我料理", "own_funeral_arranged", 8),
        ("这是最后一条了，我真的活不下去了", "giving_up_with_last_words", 8),
    ],
)
def test_explicit_danger_fires_its_rule(text: str, rule: str, floor: int) -> None:
    hits = match_rules(text)
    assert rule in [h.rule for h in hits]
    hit = next(h for h in hits if h.rule == rule)
    assert hit.floor == floor
    assert 0 <= hit.start < hit.end <= len(text)


@pytest.mark.parametrize(
    "text",
    [
        "今天加班到十点，老板还骂我，烦死了",  # everyday hyperbole
        "我不会吃安眠药的，放心吧",  # negated
        "以前我也吞过一整瓶药，现在好多了",  # the past
        "据报道，一名男子昨日吞下一整瓶安眠药，经抢救脱离危险",  # news
        "小说里女主角喝了农药，看哭了",  # fiction
        "我朋友说她已经吃了一整瓶安眠药，我该怎么办",  # someone else
        "这是今年最后一条微博，新年快乐",  # a year's last post
        "男人嘛，干嘛非得在一棵树上吊死",  # an idiom
        "明天去医院动手术，有点紧张",  # 动手术 is not 动手
        "今晚吃了两粒安定还是睡不着",  # a usual dose of a sleeping pill
        "很多人一点事就说想跳楼了",  # 一点 is "a little", not one o'clock
        "我走了以后记得锁门",  # leaving the house
        "周末去江边跳广场舞",  # a time and a riverside, dancing
        "我不在的时候猫就拜托你了",  # a cat-sitter
        "暑假去一个很远的地方旅行，再见啦",  # a holiday
        "明天去海边玩，晚上就回来",  # a day out
        "我先走了，明天见",  # leaving a dinner
        "我们下辈子还要做姐妹，爱你",  # friendship, no leave-taking
        "对不起，今天有事先走了，你们慢慢吃",  # leaving early
        "切菜的时候划了一刀，手指流血了",  # a kitchen cut
        "炭火烧起来了，屋里的烤肉真香",  # a barbecue
        "在海里游泳，水到胸口了好舒服",  # swimming
        "站在山顶的栏杆外面拍照，腿都软了",  # a height, no high place of the rules (山顶)
        "牙疼得我好想死",  # a wish as hyperbole
        "跑完八百米累到想死",  # the same
        "一想到明天要考试就想死",  # no first-person wish phrase
        "我不想死，我只是太累了",  # the opposite of a wish
        "我妹妹昨天哭着说不想活了",  # someone else
        "该怎么安慰一个想自杀的人",  # help for someone else
        "以前也觉得活不下去了，现在挺好",  # the past
        "搬了一天家，累得不想活了哈哈",  # hyperbole built on 得
        "这首民谣唱的是一个想结束生命的人",  # a song's story
        "社会安定，一整瓶酱油都用完了",  # 安定 as "stable", no pill taken
        "在站台上等火车，晚点了半小时",  # a station, not the tracks
        "出差这周猫交给邻居照顾，你们不用担心我",  # a trip
        "礼物藏在衣柜里，明天就送给她",  # a hidden present
        "有个博主说今晚要去跳楼，怎么举报才能让平台联系她",  # rules-9: someone online
        "评论区一个陌生人说明天就去跳河，我该报警吗",  # rules-9: the same
        "这个月吃了两盒感冒药，病总算好了",  # rules-10: everyday medicine
        "吃了三盒维生素，精神好多了",  # the same
        "坐在车里开着发动机吹空调等你",  # rules-10: a car, waiting
        "把绳子套在狗脖子上，带它去散步",  # rules-10: a dog's leash
        "明天就是我的最后一天假期了",  # rules-10: the last day of a holiday
        "再见了，世界杯，四年后见",  # rules-10: the World Cup
        "以前想过下周就去跳江，后来慢慢走出来了",  # rules-11: a time to come inside a memory, no comma
        "吞了一整瓶安眠药，那是前年的事了",  # rules-11: a past word after the act
        "一整瓶安眠药吞下去以后，今天终于被救过来了",  # rules-11: a rescue, wherever it stands
        "翻过栏杆去捡球，脚下一滑摔了一跤",  # rules-14: a ball fetched over a railing
        "开着燃气做饭，门窗都关好了，有点闷",  # cooking
        "车在车库里一直没熄火，热车十分钟，我有点困",  # warming up the engine
        "安眠药都吃完了，明天得去医院再开",  # a prescription run out
        "农药被邻居家的狗喝了一口",  # someone else's act (被)
        "小区里的大爷喝了农药，被送去医院了",  # an older neighbour as the subject
        "前几年吞了一整瓶安眠药，现在好多了",  # years ago
        "表姐说她遗书都写好了，我现在该做什么",  # rules-15: a friend's farewell reported for help
        "弟弟说他要和网友一起烧炭，我该怎么劝",  # the same for a pact
        "网友私信我说今晚就吃药自杀，我该怎么办",  # rules-16: 我 as the object (私信我) leaves the friend the subject
        "男朋友说如果我离开他他明天就去跳楼",  # rules-16: someone else after the writer's 我
        "我男朋友昨晚吞了一整瓶安眠药",  # rules-16: 我 before the other person (whose act it is)
        "我在新闻里看到一名男子吞了一整瓶安眠药",  # rules-17: no writer after the news words
        "电影里我最喜欢的角色最后吞了一整瓶安眠药",  # rules-17: the character comes after the writer
        "据悉我市一男子今晚将跳楼",  # rules-17: 我市 is the news' "our city"
        "我是读完原著才看的《永别了，武器》",  # rules-17: a title
        "坐在码头边上，两条腿垂在外面晃来晃去，好惬意",  # rules-19: a pier, no high place
        "在海里游泳，浪打到脸上好刺激",  # swimming
        "修车师傅把排气管接了根管子通进车窗检测",  # a mechanic's test
        "浴缸里的水被浴球染红了",  # rules-20: a bath bomb
        "以后不用等我吃饭了，公司天天加班",  # waiting for dinner
        "站在地铁站台上，轨道在震，车快来了",  # a platform, not the rails
        "我每个礼拜天都去教堂做礼拜，跳广场舞的阿姨也去",  # rules-21: worship, not a weekday
        "元宵节那晚我们在院子里烧炭烤肉",  # rules-21: a barbecue on a festival night
        "这周末在院子里烧炭烤肉",  # and on a weekend, which fired before rules-21
        "围巾绕在脖子上好暖和，明天降温记得戴",  # rules-24: a scarf worn
        "明天把吊灯吊在客厅中间",  # a lamp hung
        "这是本周最后一次更新，下周见",  # rules-24: the last update of a week (last_post's requires)
        "据报道，一男子今晚在江边跳江",  # 据 still reports news
        "一名男子今晚在江边跳江",  # rules-26: 一名 of a news report still silences
        "周末在家吃老鼠药毒老鼠",  # rules-28: poison put out for pests
        "今天我家狗误吃了老鼠药，赶紧送宠物医院了",  # rules-29: a pet, an accident
        "家里的猫吃了老鼠药，吐了一地，连夜送去医院",  # rules-29: a pet again, without 误
        "网上看到一个高中生说明天考完就去死，怎么联系他",  # rules-28: 高中生 is someone else
        "去年跳江被救了，现在好多了",  # rules-25: a rescue is still past
        "明天是周一，我要去上班，公司楼下新开了一家店，跳槽的事再说",  # a time, and no way to die
        "下周三交报告，写了一半，今晚通宵，要累死了，老板还催",  # hyperbole after a long gap
        "下个月去深圳工作了，以后周末陪不了你们了，谢谢大家这些年的照顾",  # rules-30: a new job elsewhere
        "毕业了，宿舍钥匙交给宿管，以后不能陪你们吃夜宵了",  # graduating
        "分手了，钥匙还给他了，以后就当没认识过我",  # a breakup
        "以后再也看不到他们同台了，谢谢这十年",  # a band parting: the writer sees no more, is not gone
        "妈，我很快就来陪你了，下周就放假回家",  # rules-31: no grave, a visit home
        "同学跟我说遗书写好了，放在他宿舍抽屉里，我该怎么办",  # rules-31: someone else's note
        "赛车冲下山坡的时候观众都在尖叫",  # a race, no cliff
        "妈妈要去很远的地方出差一个月，以后要听爸爸的话",  # rules-32: a work trip
        "谢谢大家的关心，别为我难过，我会好起来的",  # the writer will be all right
        "早饭前的胰岛素都打了，血糖控制得不错",  # the daily routine
        "以后我闺女就交给你了，老丈人拍着我的肩说",  # a wedding: 交给 is no absence of the writer
        "那年高考前我吞了一整瓶安眠药，现在读研了，挺好的",  # rules-33: 那年 is past
        "那年轻人把尾气管接进来检测，说是年检要用",  # 那年轻人 is no past word; a car inspection
        "周末买了一袋炭，在院子里烧上烤串",  # rules-34: a barbecue
        "明早你醒来我就不在家了，赶早班机",  # away from home, not gone
        "期末考砸了，我要去死了哈哈",  # rules-35: hyperbole, no goodbye
        "冬天早上关上车库门热车，发动了五分钟就开出去了",  # warming up the car
        "爸爸要去很远很远的地方打工，以后要听妈妈的话",  # rules-36: a parent leaving to work far away
        "妈妈要去很远的地方工作了，你要听爸爸的话，妈妈永远爱你",  # the same
        "作业写不完，我要去死了，再见👋",  # rules-37: a joke
        "论文被导师打回第五次，我要去死了，别找我哈哈哈",  # the same
        "钱已经还清了，以后别再找我借钱",  # rules-38: an errand
        "谢谢大家，替我好好过个年",  # a holiday wish
        "这是我最后一天送外卖，以后不能给大家送餐了，谢谢照顾",  # leaving a job
        "下个月退休了，以后不能陪大家值夜班了，谢谢这些年的照顾",  # retiring
        "书都留给表妹了，下个月全家移民，以后过年不能陪你们了",  # rules-39: emigrating
        "永别了我的刘海，托尼老师下手太狠",  # rules-40: a thing lost
        "相册里的照片永别了，云盘没同步",  # the same, the thing first
        "加完班了，我先走一步，复活了再来开黑",  # a joke's marks after it
        "这是这个小号的最后一条微博，准备专心考研了",  # an everyday reason to stop posting
        "这个世界我待够了，下辈子想当一只猫",  # rules-41: tired of the world, no goodbye or arrangement
        "周末去了一个不会再失眠的地方，山里的民宿太安静了",  # a holiday
        "给自己的这一年画个句号，明年继续加油",  # a year's full stop
        "后事就交给你们了，游戏账号归我弟哈哈哈",  # a joke
        "加班加到不想活了，明天还得早起",  # hyperbole with no last words
    ],
)
def test_what_the_rules_leave_alone(text: str) -> None:
    assert match_rules(text) == []


def test_rule_set_is_named_versioned_and_ordered() -> None:
    assert re.fullmatch(r"rules-\d+", RULES_VERSION)
    names = [rule.name for rule in RULE_SET]
    assert len(names) == len(set(names))
    assert families() == ["attempt", "farewell", "plan_with_time", "pact_or_method", "wish"]
    assert all(4 <= rule.floor <= 10 and rule.description for rule in RULE_SET)
    # only the wish family stays below the plan tier, where a rule would also flag high risk
    assert {rule.family for rule in RULE_SET if rule.floor < 6} == {"wish"}


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        # written for this test: each cue that a post is not the writer's own present act, and posts without one
        ("小说里的女主最后吞下了一整瓶药", True),  # reported
        ("那时候我把药都吞了，幸好被室友发现", True),  # the past, a rescue
        ("邻居家的阿伯喝了农药，救护车刚走", True),  # someone else opens the post
        ("隔壁的阿伯喝了农药，救护车刚走", False),  # a limit: 阿伯 is not among the other subjects
        ("听说室友昨晚吞了一整瓶药", True),  # someone else opens the post
        ("我们班的同学昨天从楼上跳下去了", True),
        ("宿舍没有暖气，冻死我了", True),  # everyday hyperbole
        ("戒掉自残快两年了", True),  # recovery
        ("最难的那段日子已经过去了", True),
        ("听说隔壁的阿伯喝了农药", True),  # rules-13: hearsay opening the post, whoever it is about
        ("基金又绿了，心都在滴血", True),  # rules-13: internet hyperbole without 死
        ("加班到半夜，心态崩了", True),
        ("前几年我也一个人站在桥上过", True),  # rules-14: years ago
        ("大爷说他活够了", True),  # rules-14: an older person opens the post
        ("笑死，猫把我的杯子推下桌了", True),  # rules-20: internet hyperbole
        ("那阵子天天想着怎么消失，现在好多了", True),  # rules-20: 那阵子 is past
        ("两年前写的那封信，今天翻出来撕了", True),  # rules-22: a counted time ago
        ("半个多月前还整夜睡不着，这周能睡着了", True),
        ("三个月后我就毕业了，到时候去海边玩", False),  # a time to come, not ago
        ("一整瓶药已经吞下去了，头好晕", False),
        ("别等我了，我不会回来了", False),
        ("妈妈对不起，我先走了", False),  # a parent addressed, not a subject: no cue
    ],
)
def test_context_cues_mark_posts_that_are_not_the_writers_own_present_act(text: str, cue: bool) -> None:
    assert has_context_cue(text) is cue


def test_floors_are_the_highest_hit_or_minus_one() -> None:
    hits = [match_rules(t) for t in ["遗书写好了，我刚吃了一整瓶安眠药", "今天天气很好", ""]]
    assert rule_floors(hits).tolist() == [10, -1, -1]


def test_a_rule_only_raises(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A rule hit sets the level to at least its floor and the flag to high risk, and never lowers anything."""
    level = tiny_scoped_model("level", tmp_path)
    binary = tiny_scoped_model("binary", tmp_path)
    text = "这是我最后一条微博了"
    details = level.predict_details([text])
    plain = level.predict_details([text], apply_scope=False)
    assert details.scope is not None and details.scope.in_scope[0]
    assert details.labels[0] == max(8, int(plain.labels[0]))
    assert binary.predict_details([text]).labels[0] == 1
    # a post the model already puts above the floor keeps its level
    above = "我已经吃了一整瓶药了，再见"
    assert level.predict([above])[0] >= max(10, int(level.predict_details([above], apply_scope=False).labels[0]))
    assert np.all(level.predict(["今天天气不错"]) <= 3)


def test_a_wish_rule_raises_the_level_and_leaves_the_flag_to_the_model(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Below the plan tier a rule hit puts the post in scope and raises its level, but never flags it high risk."""
    level = tiny_scoped_model("level", tmp_path)
    binary = tiny_scoped_model("binary", tmp_path)
    wish = "我真的不想再活下去了"
    assert [h.rule for h in match_rules(wish)] == ["first_person_wish"]
    details = level.predict_details([wish])
    assert details.scope is not None and details.scope.in_scope[0] and not details.scope.rule_flags_high_risk[0]
    assert details.labels[0] == max(4, int(level.predict_details([wish], apply_scope=False).labels[0]))
    flagged = binary.predict_details([wish])
    assert flagged.scope is not None and flagged.scope.in_scope[0]
    assert flagged.labels[0] == binary.predict_details([wish], apply_scope=False).labels[0]
    # a farewell's floor (8) still flags
    assert binary.predict_details(["这是我最后一条微博了"]).labels[0] == 1


def test_every_rule_family_has_a_name_on_the_triage_page() -> None:
    from sosrisk.serve.pages import RULE_FAMILY_NAMES

    assert set(families()) <= set(RULE_FAMILY_NAMES)


@pytest.mark.parametrize(
    ("text", "someone_else"),
    [
        # rules-18: help asked for someone in danger, told as that person's words or acts
        ("闺蜜说她想割腕，我该怎么办", True),
        ("同事这几天总说想从公司楼上跳下去，我该怎么劝他", True),
        ("学生在周记里写想去死，作为老师我应该怎么做", True),
        ("网友私信我说今晚要吃药自杀，我该怎么办", True),  # 私信我: the writer is the object
        ("表哥喝醉了就说不想活了，我们该怎么办", True),
        ("我弟弟最近总是在搜怎么买安眠药，我要怎么和他谈", False),  # a rule fires (method_search): it stays
        # the writer's own danger, with someone else in the sentence or no 我 at all
        ("室友都睡了，好想吃药结束这一切，我该怎么办", False),
        ("男朋友说分手，我想跳楼，我该怎么办", False),
        ("同事说我没用，我真想去死，怎么办", False),
        ("朋友说他想跳楼，可我已经吞了一整瓶安眠药，我该怎么办", False),  # a rule fires: the writer's act
        ("朋友说她自己也想过跳楼，我们互相打气", False),  # no help asked
        ("朋友总说我想太多，其实我每天都想去死，该怎么办", False),
        # rules-27: someone else named with no danger word of ours, and everyday forms of the question
        ("我开出租的，有个乘客一路都在哭，下车前把手机和钱包都塞给我了，我该联系谁", True),
        ("我妈这几天总说房子过户给我以后她就轻松了，我该怎么接话", True),
        ("邻居家的孩子天天坐在楼顶边上发呆，该咋办", True),
        # ... but not where a word of death or of giving up could be the writer's own
        ("我撑不住了，手机和钱包都留给我妈了，我该联系谁", False),
        ("有个同学说我活着就是浪费空气，我该怎么办", False),
        ("我妈又骂我了，我也想消失，该咋办", False),
    ],
)
def test_help_asked_for_someone_else(text: str, someone_else: bool) -> None:
    assert about_someone_else(text) is someone_else


def test_a_poison_drunk_tomorrow_is_a_plan_not_an_attempt() -> None:
    """An act to come is the plan rules' business (rules-28), never an attempt's (rules-14)."""
    assert [h.family for h in match_rules("明天一早我就把这瓶农药喝了")] == ["plan_with_time"]
