"""The safety net: transparent rules for explicit danger that can only raise a post to human review.

A model trained on about a thousand posts misses some plainly written attempts and farewells (an overdose
in progress described in everyday words, "this is my last post"). These rules catch what is explicit:
means already taken, a plan with a time, a farewell or last post, a pact or a search for a method. A rule
hit

- puts the post in scope whatever the scope gate says,
- raises its level to the rule's ``floor`` (never lowers it), and
- flags it as high risk when that floor is 6 or more (:data:`sosrisk.scale.RAISING_LEVEL`, the "plan"
  tier: every rule up to rules-6 has such a floor; the one wish rule of rules-7 raises the level to 4 only),

and every hit is reported (family, rule, the matched span) in the assessment and on the triage page, so a
reviewer sees why. Rules never lower anything: a post no rule matches keeps the model's answer.

Rules work clause by clause (a clause ends at Chinese or Western sentence punctuation). A match is
dropped when its clause negates it (不 / 没 / 别 / 不会 ... before the matched verb), when the post
reports about someone else (news, fiction, a film, a friend), or when the clause talks about the past.
Each rule family's precision and recall on the SOS-1K folds, what it adds to the model's out-of-fold
predictions and its hits on ordinary text are measured by ``benchmarks/bench_scope.py``. A family earns
its place when, counted over both tasks, at least as many of the posts it raises are at risk as when the
binary model reaches for more recall by lowering its own threshold (about 37%: from the 0.8 to the 0.9
recall target it adds 49 high-risk posts for 84 false alarms). Attempts (5 of 8 raised posts at risk),
farewells (10 of 12), plans with a time (3 of 8) and pacts (14 of 30) do; "means acquired" (pills, a rope,
charcoal bought) never fired on SOS-1K or on ordinary text, so nothing shows it earns its place, and it
was dropped in rules-3.

rules-4 adds patterns to families that earned their place, for plainly worded posts the behavioural suite's
development cases showed the gate sending out of scope: water or a train as the edge cue of
``at_the_edge``, a time and a high place (``time_and_place``), and four farewells (going far away for good,
instructions for after the writer is gone, entrusting a pet or family, no more posts with thanks). None of
them fires on SOS-1K, so SOS-1K gives no evidence for or against them; none fires on any of the 126,000
ordinary sentences of the five sources (train and held-out parts), and the held-out behavioural suite,
never tuned to, is the check of whether they generalise (``benchmarks/bench_scope.py``).

rules-5 (2026-12-06) adds one farewell, ``goodbye_and_arrangements``: a leave-taking ("我先走了", "别找我",
"下辈子再做朋友") in the same post as a last arrangement, an apology or instructions for the grief
("对不起", "别为我哭", "照顾好爸妈", things given away, passwords left). Either cue alone is everyday
speech; the two together are the farewell that the behavioural suite written on 2026-12-06
(``holdout3.tsv``) showed both models missing (2 of 9 held-out farewells found). It fires on no SOS-1K post
and on 2 of the 125,867 ordinary sentences (a joke, a love quote); an everyday leaving ("对不起，今天有事先走
了，你们慢慢吃") is excluded by name. ``holdout4.tsv``, written before the rule, judges it.

rules-6 (2026-12-06) fills gaps in the attempt family's vocabulary that ``holdout4.tsv`` showed (an act
under way in everyday words: "割完" and blood, charcoal "烧着" in a closed room, "走进海里" and the water
rising, "窗台外面" and shaking legs at a height), each with a second cue and everyday look-alikes
(cutting vegetables, a barbecue, swimming) excluded by name. ``holdout5.tsv``, written before it, judges it.

rules-7 (2026-12-06) adds the first rule below the plan tier, ``wish/first_person_wish`` (floor 4, the
lowest level of the "wish" tier, and no high-risk flag): the writer's own wish to die said plainly ("我好想
死", "不想活了", "活不下去了", "想结束这一切", "想一了百了"), not hyperbole ("疼得想死", "累到想死") and not
about someone else. The behavioural suites showed plain wishes going out of scope or staying at level 0-3
(held-out wishes reached level 4 in 38-75% of cases). A wish is not a plan: in SOS-1K's binary annotation
only 22 of the 198 level-4 posts are high risk, so the rule puts the post in scope and at the wish tier and
leaves the flag to the models. It fires on 61 SOS-1K posts (89% of them at level 4 or above; 73% of all
posts are) and on 2 of the 125,867 ordinary sentences. ``holdout6.tsv``, written before it, judges it.
Two look-alikes the earlier suites showed are left out by name: hyperbole built on 得 ("腿酸得不想活了") and a
song's story ("这首老歌唱的是…": ``这首…歌`` and ``唱的是`` now mark any post as reported, for every rule; on
SOS-1K and the ordinary sentences no rule hit changed).

rules-8 (2026-12-06) fills vocabulary gaps that ``holdout6.tsv``'s run showed in explicit posts: a sleeping
pill named instead of "药" ("一整瓶安定都吃完了"), waiting on the tracks for a train ("等末班车"), "我已经去了
另一个世界", "不能陪你变老了" as a leave-taking, a pet entrusted to someone named with "不用再担心我", and lethal
means hidden with a time to use them (``means_hidden_and_time``). It fires on no SOS-1K post and on none of
the 125,867 ordinary sentences; besides those seen cases it catches one case of ``cases.tsv`` and one of
``holdout5.tsv``. ``holdout7.tsv``, written before it, shows no gain: no rule hit there changed.

rules-9 (2026-12-06) changes no pattern: it adds the people a writer reports on from the internet or
work (博主, 楼主, 主播, up主, 粉丝, 陌生人, 路人, 舍友, 同桌, 患者, 病人, 来访者) to the subjects that stop a rule
outside the first-person families, so "看到一个陌生人在评论区说今晚要去跳江，怎么才能找到他" (help for someone
else) no longer fires ``time_and_act``. It can only remove hits.

rules-10 (2026-12-06) fills vocabulary gaps that ``holdout12.tsv``'s run showed, where every model sent
plainly worded danger out of scope at level 0: several boxes or bottles of pills swallowed
(``boxes_of_pills_taken``: "三盒安眠药"; pills not named as sleeping pills or poison need the body failing or a
goodbye in the same post, and everyday medicine is excluded by name), shut in a car with the engine running
(``exhaust_in_car``), a rope "套在脖子上", "……就是我的最后一天" (not of a holiday, a job or a course),
"再见了，这个……世界" across a comma (never 世界杯), and "下辈子不要再做你们的孩子了" as a leave-taking. On SOS-1K
and on the 100,727 ordinary training sentences the hits are the same as rules-9's; of the seen suites' texts
only ``holdout12.tsv``'s (8 posts) and one of ``holdout2.tsv`` gain a hit. ``holdout13.tsv``, written before
it, judges it.

rules-11 (2026-12-06) changes how a clause is read as past. Before, any past word anywhere in the clause
(以前, 去年, 之前 ...) silenced every rule there, so "去年没死成，今晚我就从楼上跳下去" raised nothing. Now a
match is past when a past word stands after its start, or before it with no time to come or "now" (这次,
今晚, 明天, 周末, 今年 ...) opening a later part of the sentence (after a comma) before the match ends; a rescue
or a treatment (被救, 洗胃 ...) still silences the whole clause. It changes no hit on SOS-1K, on the ordinary
training and held-out sentences, or on any suite read before; ``holdout14.tsv``, written before it, judges it.

rules-12 (2026-12-06, a new session) changes no pattern: it adds :func:`has_context_cue`, which tells whether
a post carries a cue that it is not the writer's own present act (reported text, the past or a rescue, someone
else opening the post, everyday hyperbole such as "冷死我了", or recovery words such as "戒掉", "走出来"). The
plain-danger net's own-voice bar (:mod:`sosrisk.scope.danger`) fires only on posts without such a cue. No rule
hit changes.

rules-13 (2026-12-06, the same session) changes no pattern either: :func:`has_context_cue` also knows hearsay
opening a post ("听说……", whoever it is about) and internet hyperbole without 死 ("心都在滴血", "心态崩了",
"我真的会谢", "脑子烧干了", "撑得我要升天了"), which the own-voice bar raised when it was tried lower.

rules-14 (2026-12-06, a new session) fills vocabulary gaps of the attempt family that the suites read had
shown, where both default models sent a means in use out of scope at level 0: the poison or the sleeping
pill named first and the swallowing after (``poison_then_taken``: "敌敌畏……我喝了大半瓶";
``pills_then_taken``, with the body failing or a goodbye), over a balcony's or a bridge's railing with the
drop below (``over_the_railing``), gas turned on in a room shut from the inside (``gas_in_closed_room``), a
car's engine running in a closed garage with the writer drowsy (``engine_running_closed``), lying on the
tracks with a train's light or sound coming closer (``at_the_edge``), a neck in the noose told from the neck,
and water "快到下巴". Each has everyday look-alikes excluded by name (a ball fetched over a railing, cooking,
warming up a car, a prescription run out, rats and farm work) and none fires on an act still to come ("我就把
……喝了": the plan rules' business). It also reads years ago (前些年, 几年前, 多年前 ...) as past and older
people a writer tells about (大叔, 大爷, 老人 ...) as someone else, so "我们村有个大叔前些年喝了百草枯" no
longer fires. On SOS-1K, the 125,867 ordinary sentences and the team's training sentences no rule hit
changes; ``holdout18.tsv``, written before it, judges it.

rules-15 (2026-12-06, the same session) stops every rule where someone's words about a third person are
reported in the part of the sentence (up to a comma) where the match starts ("闺蜜说她已经写好了遗书，我该准备
什么": a friend's farewell reported for help, which ``note_written`` raised because the farewell and pact
families skip the other-subject check; elsewhere 他/她 before a match already stopped it). It can only remove
hits. On SOS-1K, the ordinary sentences, the team's sentences and the suites no hit changes but that one post
of ``holdout18.tsv`` (read by then, when it judged rules-14), so no blind suite has judged it.

rules-16 (2026-12-06, a new session) reads the nearest subject before a match: someone else named before it
stops a rule only when no first-person subject follows that mention ("老公还在睡，我已经把一整瓶安眠药吃了"
and "我跟朋友说我明天就去跳楼" are the writer's own acts, which the default models had put at level 0 and 7
with no rule; "网友私信我说……" and "男朋友说如果我离开他他就……" still stop it, since 我 there is an object
or someone else comes after it). Found by probing, not from a suite. It can only add hits: on SOS-1K four,
all on posts at the level the rule raises to or above (three wishes at level 5, a plan at level 9); on the
125,867 ordinary sentences, the team's sentences and the suites read, none.

rules-17 (2026-12-06, the same session) reads news, fiction and teaching words the same way: before, one of
them anywhere in a post silenced every rule ("看了一部电影，哭完我就把一整瓶安眠药吃了" and "新闻里都是别人的幸福，
我今晚就去跳江" got level 0 from the default level model with no rule); now a match fires when it comes after the
last such word with the writer as a subject between them. It also reads "我是一名……", "作为一位……" as the writer
introducing themself (not 一名 of a news report, nor 学生 as someone else), never fires inside a title in 《》
("《永别了，武器》"), and does not take 我国/我市/我校 (news' "our") or 自我 for the writer. Found by probing: no
hit changes on SOS-1K, the ordinary sentences, the team's sentences, the suites read or ``holdout19.tsv``.

rules-18 (2026-12-06, the same session) adds :func:`about_someone_else`, which is not a safety-net rule and
raises nothing: the scope stage takes a post its gate kept out of scope (``scope_reason`` ``someone_else``) when
it asks how to help someone else in danger, every danger word in it is told as that person's words or acts
("同事这几天总说想从公司楼上跳下去，我该怎么劝他"), and no rule and no net raised it. No rule hit changes.

rules-19 (2026-12-06, the same session) fills the vocabulary gaps of the attempts and the note that
``holdout19.tsv``'s blind run sent out of scope at level 0: legs hanging over a roof's edge
(``over_the_drop``: "两条腿垂在外面"), walking deeper into the sea with the waves at the face (``into_the_water``),
a hose from the exhaust led into the car (``exhaust_hose``, new) and a note left under something
("遗书压在台灯下面", ``note_written``). On SOS-1K, the ordinary sentences and the team's sentences no hit
changes; on the suites read before ``holdout19.tsv`` two attempts gain one; on ``holdout20.tsv``, blind, one
attempt more passes for both default models and no other answer changes.

rules-20 (2026-12-06, the same session) does the same for ``holdout20.tsv``'s failures: the bath water turned
red (``bath_turned_red``, new; never with a bath bomb or petals), the ear on the rails or the rails shaking
(``at_the_edge``; 轨道 as a place beside 铁轨), "以后不用等我了" (``goodbye_world``), and three context cues that
keep the own-voice bar quiet: 笑死 and 当场阵亡 (internet hyperbole) and 那阵子 (the past). No hit changes on
SOS-1K or the ordinary sentences (8 of them gain a context cue); ``holdout21.tsv`` judges it.

rules-21 (2026-12-07, a new session) completes a closed class instead of adding a method: the time words knew
星期 and 周 but not 礼拜, their everyday synonym (下礼拜三, 这礼拜, 礼拜天), nor a festival's night or day
(元宵节那晚, 除夕夜里, 国庆当天). Both join the times of a plan (and 礼拜 the times that end the past in a
sentence); a bare 礼拜 (做礼拜) or a festival without a time (元宵节快乐) does not count. 烧炭 followed by a
barbecue, a hot pot or heating (烧炭烤肉) is no longer a way to die: a weekend barbecue fired ``time_and_act``.

rules-22 (2026-12-07, the same session) completes the past words the same way: a counted time ago (三年前,
两个月前, 半年前, 10天前) is past like 几年前. It changes no rule hit on SOS-1K, the ordinary sentences or the
suites read; it gives more posts a context cue (:func:`has_context_cue`), which since rules-22 also keeps the
plain-danger net's inside bar quiet (:mod:`sosrisk.scope.stage`), as it kept its own-voice bar.

rules-23 (2026-12-07, the same session) lets a plan after a rescue fire: a sentence with a rescue word (被救,
洗胃, 抢救过来) was set aside whole, so 去年被救了，今晚我就去跳江 fired nothing, though rules-11 had let
去年没死成，今晚我就…… fire. A rescue is now a past word like the others (it already was one), and every time
a plan may name (过几天, 明早, 周五, 等……那天) ends the past after a comma, not a shorter list of its own. No
rule hit changes on SOS-1K, the ordinary sentences or the suites read.

rules-24 (2026-12-07, the same session) reads what two blind suites in a row missed: hanging told without 上吊
(把自己吊在衣柜横杆上, 用充电线吊在管道上) as a way to die, a cord other than a rope pulled round the neck
(``noose_ready``; never a scarf worn), a note recorded or stored (遗书录成语音), "the last update" (最后一次更新)
as a last post; and 据 (according to) is a news word only outside 数据, 根据, 证据 and the like: 数据线 (a
charging cable) had silenced every rule on a post.

rules-25 (2026-12-07, a new session) reads two things the previous session noticed and left alone, neither of
them a new word for a method: a rescue hoped against or asked for (希望别被救, 不想被救, 想被救) is no past word, so
"今晚去跳江，希望别被救" fires; and a plan's time and its act may stand up to 30 characters and two commas apart
(``_PLAN_GAP``, for ``time_and_act`` and ``time_and_place``; 16 and one comma before), so "周四晚上轮到我一个人值班，
整层楼没人，我就从楼顶跳下去" reads as one plan. No hit changed on SOS-1K or on the 125,867 ordinary sentences; 25
plans of the suites read gained one; ``holdout28.tsv``, written before it, judged it (plans +1 for both default
models, nothing lost).

rules-26 (2026-12-07, the same session) mends two collisions of the news words like 据 in rules-24: 一名 and 一位
count as a report only when they are no rank (第一名, 前一名), and 男子 not in 男子汉, so "我考了全班第一名，可是今晚
还是要去跳楼" fires. No rule hit changes on SOS-1K or the ordinary sentences (26 of them lose a context cue, none
of them raised either way); ``holdout29.tsv``, written before it, judged it (no answer changed).

rules-27 (2026-12-07, the same session) changes who reads a help request, not a pattern of danger. The
plain-danger net reads what a post is about, not whose danger it is, and raised posts that ask how to help a
customer, a passenger or a stranger ("我开理发店，一个老顾客……还说炭都买好了，我该不该报警"); the stage asked
:func:`asks_help_for_someone_else` only of posts nothing had raised. It now asks it of every post no regex rule
raised, the net's included, and withdraws the net's hit where the answer is yes. The question also knows
everyday and dialect forms (该咋办, 能做点啥, 打给谁, 联系谁), and a post that names someone else (the people of
the other-subject check, 一个/有个 + a person, 我妈) with no danger word of ours counts when it holds no word of
death, of the writer's own life or of giving up (死, 活着, 撑不住, 消失, 解脱 ...). It can only take posts out
of scope. On the 30 suites read: help-seeking +14 checks for ``char-linear`` and +10 for ``best``, nothing lost;
on SOS-1K one post at level 0 goes out of scope; ``holdout30.tsv``, written before it, judged it (help-seeking +1
for both default models, nothing lost).

rules-28 (2026-12-07, the same session) reads what two blind suites in a row (``holdout29.tsv``, ``holdout30.tsv``)
missed and five suites read before them held: a plan to drink a named pesticide or poison (就把那瓶敌敌畏喝了,
喝农药; a closed list of names, never poison put out for pests) is a way to die for the plan rules; the parts of a
plan's sentence may hold 14 characters each (10 before); and students named by their school (高中生, 初中生,
大学生 ...), which hold no 学生, are someone else. No rule hit changed on SOS-1K or on the 125,867 ordinary
sentences (28 news headlines gain a context cue); ``holdout31.tsv``, written before it, judged it (no answer
changed).

rules-29 (2026-12-07, the same session) gives ``poison_taken`` the everyday look-alikes its sibling
``poison_then_taken`` has excluded since rules-14: a pet or a farm animal that ate the poison ("今天我家狗误吃了老鼠药"
fired at level 10), an accident (误吃, 误喝) and poison put out for rats; not the crop a pesticide was bought for,
which a writer may name ("喝了半瓶打果树的农药"). It can only remove hits: none changed on SOS-1K, the ordinary
sentences or the suites read; ``holdout32.tsv``, written before it, judged it (no answer changed).

rules-30 (2026-12-07, a new session) adds the quiet farewell the suites miss most (gated out at level 0): the
writer gone from the days to come (以后过年我就不能亲手给他了, 这辈子就到这儿了, 就当没认识过我, 往后的日子你们替我
接着过吧, 别再找我, 我能带走的只有自己) with, in the same post, affairs settled or last words (a debt repaid, keys,
passwords or things handed on, thanks, an apology): ``settled_and_absent``, never with everyday leaving nor a
real departure (moving, studying or working elsewhere, graduating, a breakup, a trip, a hospital stay). The
leave-taking rule also takes "谁都别怪" as last words. No hit changed on SOS-1K or on the ordinary sentences; on the
33 suites read farewells +15 for both default models, nothing lost; ``holdout33.tsv``, written before it,
judged it (no answer changed: its three missed farewells use other words).

rules-31 (2026-12-07, the same session) reads ``holdout33.tsv``'s misses: a car driven off a cliff or into the
water is a way to die (开车从盘山公路冲下悬崖); telling the dead at a grave that the writer will join them soon is a
farewell (``joining_the_dead``: 跟她说我很快就来陪她了, only with a grave word); "以后这些都得你记着了" is the
writer absent and "我撑不下去了" last words for ``settled_and_absent``; a note may be someone else's (网友跟我说遗书
写好了: ``note_written`` now reads the other-subject check the other farewell rules skip); and in a plan the writer
may stand after the time inside the match (等把闺女送去她外婆家，礼拜天晚上我就……), where the someone-else check
had read the daughter as the subject. The stage also asks the help question of a post whose only rule hit is the
wish rule, since the wish may be the words of the person asked about (我爸……说想一了百了，我该怎么跟他聊). On SOS-1K
one post gained a hit (level 6); none of the ordinary sentences; on the 34 suites read plans +2, help +3/+2 and
farewells +2 for ``char-linear``/``best``, nothing lost; ``holdout34.tsv``, written before it, judged it (no answer
changed).

rules-32 (2026-12-07, the same session) reads ``holdout34.tsv``'s misses the same way: a parent going "to a far,
far place" with how the child is to live on (以后要听爸爸的话，好好长大; ``far_away_live_on``, never with a real
departure); more absence for ``settled_and_absent`` (别再为我……难过, 往后别惦记我, 以后爸妈就靠你了) and more last
words (对不住, 辜负了), and never where the writer says they will be all right (会好起来, 我没事); and insulin
injected all at once with the body failing (``insulin_overdose``). No hit changed on SOS-1K or the ordinary
sentences; on the 35 suites read farewells +6 / +5 and attempts +1 / 0 for ``char-linear`` / ``best``, nothing lost;
``holdout35.tsv``, written before it, judged it (no answer changed).

rules-33 (2026-12-07, the same session) reads ``holdout36.tsv``'s misses: a few words may stand
between "the last" and the post it is (这是我最后一次给你发消息, 最后一次跟你说晚安: ``last_post``);
别替我难过 is absence like 别为我难过; ``far_away_live_on`` also takes 你要听爸爸的话, 永远爱你 and
不能陪你长大 without a 以后; 那年 and 那一年 are past words (not 那年轻人), so a recovery post's
那年高考失利，我在家吞了一瓶安眠药 no longer fires ``overdose_taken``; and the exhaust hose is also told as
尾气管……接进来. No rule hit changed on SOS-1K or the ordinary sentences (21 of them and one SOS-1K post gain a
context cue from 那年); on the 37 suites read negation +4 / +5, farewells +4 and attempts +1 for ``char-linear`` /
``best``, nothing lost; ``holdout37.tsv``, written before it, judged it (negation +1 for both, nothing lost).

rules-34 (2026-12-07, the same session) reads ``holdout37.tsv``'s misses: charcoal bought and then burnt
(我就去买炭，在出租屋里烧了; never for a barbecue) and riding into the traffic (冲进高速的货车道) are ways to die
for the plan rules; a post read after the writer is gone (明早你醒来我就不在了) says goodbye to the world; "the last
thing I cannot let go of" (这是我最后放不下的事) is the writer's absence for ``settled_and_absent``. No hit changed on
SOS-1K or the ordinary sentences; on the 38 suites read plans +2 and farewells +2 for both default models, nothing
lost; ``holdout38.tsv``, written before it, judged it (no answer changed).

rules-35 (2026-12-07, the same session) reads ``holdout38.tsv``'s misses: riding into a lorry (冲进国道上的大货车里)
and the engine left running behind a shut garage door (关上车库门发动车子一直开着) are ways to die for the plan rules;
a next life given to the people addressed (下辈子还给你们当闺女) is a leave-taking; and 我要去死了 said with a goodbye
(别找我, 关机, 再见) is ``goodbye_world`` (alone it is often hyperbole: 考砸了我要去死了). No hit changed on SOS-1K or
the ordinary sentences; on the 39 suites read plans +1 and farewells 0 / +2, nothing lost; ``holdout39.tsv``,
written before it, judged it (no answer changed).

rules-36 (2026-12-07, the same session) mends a look-alike found while probing rules-32 and -33: a parent leaving
to work far away (爸爸要去很远很远的地方打工，以后要听妈妈的话, the everyday goodbye of migrant workers' families) fired
``far_away_live_on``, since a real departure (去……工作, 打工, 读书 ...) was only read with at most four characters
between 去 and the work. It now reads up to eight. It can only remove hits, and changed none on SOS-1K, the
ordinary sentences or the 39 suites read; it was not judged on a blind suite (``holdout40.tsv`` waits for the next
session's first change).

rules-37 (2026-12-07, the same session) mends another: rules-35's 我要去死了 with a goodbye fired on a
joke (作业写不完，我要去死了，再见👋; 论文被打回第五次，我要去死了，别找我哈哈哈); it no longer does where a
joke's marks (哈哈, 😂, 👋, 狗头 ...) follow in the sentence. It can only remove hits and changed none on any
text we may read.

rules-38 (2026-12-07, the same session) mends the look-alikes of ``settled_and_absent`` found by probing: an errand
is no absence (以后别再找我借钱, 别再找我帮忙), a holiday wish is none (替我好好过个年), and leaving a job is a real
departure (下个月退休了，以后不能陪大家值夜班了; 这是我最后一天送外卖). It can only remove hits and changed none on any
text we may read.

rules-39 (2026-12-07, the same session): emigrating is a real departure too (下个月全家移民新西兰; 到了加拿大再报平安),
found in 80 everyday goodbyes a helper wrote to probe false alarms. It can only remove hits and changed none on any
text we may read.

rules-40 (2026-12-07, a new session): everyday look-alikes of the goodbye rules, found in the same 80 posts.
永别了 said to a thing lost (永别了我的头发, 永别了奶茶, 三年的聊天记录永别了) and 先走一步 or 永别了 with a joke's
marks after them in the sentence (rules-37's 哈哈, 😂, 👋 ..., and 复活: 我先走一步，复活了再来群里吹水) fire no
goodbye; "this is my last post" does not fire with an everyday reason to stop posting (备考, 停更, 换号, 出国,
退休 ...; never a breakup or a loss, which start crises too). It can only remove hits and changed none on any
text we may read.

rules-41 (2026-12-07, the same session): quiet farewells, from the 21 of 60 that a helper wrote and both defaults
missed (read after they had judged rules-40 blind). Five farewell rules: done with the world, with a goodbye or a
last arrangement (这个世界我待够了。微博留着吧); going to a place with no more pain or sleeplessness (去一个不会再疼的
地方; never a holiday or a new home); a goodnight for ever and a full stop put to the writer's own life (晚安，是永远
的那种; 给自己画个句号, never a year's or a project's); someone to arrange the writer's own funeral (后事她会帮我处理);
giving up on living said with last words (最后一篇日记……我撑不下去了; 爸妈别难过……不想再继续下去了). They fire on no
ordinary sentence and no SOS-1K post; on the read suites on two farewells and one wish.

The set is versioned: :data:`RULES_VERSION` is written into every model directory, and a change of any
pattern changes the version.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RULES_VERSION = "rules-41"

# Clause boundaries: sentence punctuation (Chinese and Western), line breaks, and the ellipsis.
_CLAUSE_SPLIT = re.compile(r"[。！？!?；;\n\r…]+|\.{3,}")
# Words that make a clause not about the writer's own present act.
_NEGATION = re.compile(r"(不|没|别|未|莫|勿|不会|不要|不想|不能|不敢|没有|从没|从来没|绝不|再也不|不再|不可能)$")
# a rescue or a treatment: past words, like the others (rules-23: a time to come after a comma ends the past again);
# rules-25: never a rescue hoped against or asked for (希望别被救, 不想被救, 想被救), which is no past
_RESCUE_WORDS = r"后来被|(?<![别不要想会能望愿])被救|洗胃|获救|抢救过来"
# rules-14: years ago (前些年, 几年前 ...), which told a neighbour's old story as the writer's act
_PAST = re.compile(
    r"(以前|曾经|当年|那时候?|那段时间|那阵子?|去年|前年|小时候|上次|之前|前些年|前几年|几年前|多年前|早年|"
    # rules-33: "那年高考失利，我在家吞了一瓶安眠药" (not 明年那年: no such phrase)
    r"(?<![今明])那一?年(?![轻纪级])|"
    # rules-22: a counted time ago (三年前, 两个月前, 半年前, 10天前)
    r"([0-9]+|[一二两三四五六七八九十半]+)(年|个月|个多月|天|周|个星期|个礼拜)(以?前)|" + _RESCUE_WORDS + ")"
)
# rules-21: 礼拜, the everyday synonym of 星期 and 周 (下礼拜三, 这礼拜, 礼拜天); never a bare 礼拜 (做礼拜)
_WEEKDAY_LIBAI = r"下个?礼拜[一二三四五六日天]?|这个?礼拜[一二三四五六日天]?|礼拜[一二三四五六日天]"
# rules-21: a festival's night or day (元宵节那晚, 除夕夜里, 国庆当天); never the festival alone (元宵节快乐)
_FESTIVAL_TIME = (
    r"(除夕|大年三十|春节|大年初[一二三四五六七八九十]|元宵节?|清明节?|端午节?|七夕|中秋节?|国庆节?|元旦|跨年|圣诞节?|平安夜|情人节)"
    r"(那天|那晚|那夜|当天|当晚|晚上|夜里)"
)
_COMMA = re.compile(r"[，,]")
# A post that reports on news, fiction or teaching is about someone else: no rule fires on it.
_REPORTED = re.compile(
    # rules-24: 据 (according to), not inside 数据, 根据, 证据, 收据 ... ("数据线" silenced every rule)
    r"((?<![数根证依占收单票论字])据|报道|新闻|通报|警方|民警|记者|消防员|小说|电影|剧中|剧里|电视剧|动漫|话剧|歌词|这首.{0,2}歌|唱的是|主角|男主|女主|角色|反派|"
    r"纪录片|历史上|课上|讲座|研究显示|专家|"
    # rules-26: not 男子汉 ("a real man"), nor a rank (第一名, 前一名, 倒数第一位)
    r"(男|女)子(?!汉)|(?<![第前])一[名位]|该男|该女)"
)
# Someone else as the subject of the clause before the match ("my friend took ..."): the rule does not fire.
_OTHER_SUBJECT = re.compile(
    r"(他|她|他们|她们|朋友|同学|室友|同事|闺蜜|家人|孩子|女儿|儿子|表[弟妹哥姐]|哥哥?|姐姐?|弟弟?|妹妹?|男朋友|女朋友|"
    r"老公|老婆|学生|邻居|网友|有人|别人|"
    # rules-28: students named by their school (高中生 holds no 学生)
    r"小学生|初中生|高中生|中学生|大学生|研究生|"
    # rules-9: people met online or at work, whose words a writer reports to ask for help
    r"博主|楼主|主播|[uU][pP]主|粉丝|陌生人|路人|舍友|同桌|患者|病人|来访者|"
    # rules-14: older people a writer tells about (not 爷爷/奶奶, whom a farewell or a plan may address)
    r"大叔|大爷|大妈|大婶|老人|老头|老太太)"
)

_TIME = (
    r"(今晚|今天晚上|今夜|明天|明晚|明早|后天|大后天|这周末?|周末|下周[一二三四五六日天]?|下个?星期|周[一二三四五六日天]|"
    r"星期[一二三四五六日天]|月底|月初|年底|过完年|过完生日|生日那天|考完试?|考完最后一门|下个月|这几天|这两天|过几天|"
    r"[0-9一二三四五六七八九十]+号|[0-9]+点|等.{1,8}(那天|以后|之后)|" + _WEEKDAY_LIBAI + "|" + _FESTIVAL_TIME + ")"
)
# rules-11: what ends the past inside a sentence ("去年没死成，今年生日那天我一定要……"): now, or a time to come;
# rules-23: every time a plan may name (过几天, 明早, 周五, 等……那天), not a list of its own
_NOW_AGAIN = re.compile(r"(这次|这一次|这回|现在|此刻|马上|今天|今年|再来一次)|" + _TIME)
# rules-24: cords other than a rope that a writer hangs from or pulls round the neck (a scarf only hangs: worn
# round the neck it is everyday)
_CORDS = r"皮带|腰带|充电线|数据线|床单|电线"
# the poisons whose swallowing is an attempt (poison_taken)
_ATTEMPT_POISONS = "农药|敌敌畏|百草枯|老鼠药|耗子药|氰化物"
_POISONS = "(" + _ATTEMPT_POISONS + ")"
# rules-28: the poisons a writer may name for a plan: those, and more pesticides (a closed list); not when put out
# for pests
_POISON_NAMES = "(" + _ATTEMPT_POISONS + "|甲胺磷|乐果|敌百虫|草甘膦|毒鼠强|除草剂|杀虫剂)"
_NOT_FOR_PESTS = r"(?![^，,]{0,3}(毒|灭|杀|喷|打|治))"
_DIE = (
    r"(去死|自杀|寻死|轻生|跳下去|跳楼|跳河|跳江|跳海|跳桥|烧炭(?![^，,]{0,3}(烤|火锅|取暖))|割腕|(?<!树)上吊|自缢|卧轨|吞药|服药|喝药|结束(这一切|自己|生命|我的生命)|"
    r"离开这个世界|了结自己|动手(?!术)|吞下?[^，,]{0,4}药|(安眠药|药)[^，,]{0,3}(全|都)(吃|吞)(了|掉|下去)?|"
    # rules-24: hanging told without 上吊 ("把自己吊在衣柜横杆上", "用充电线吊在管道上")
    r"把自己吊(在|起来|上去)|吊死自己|(绳子?|围巾|丝巾|" + _CORDS + r")[^，,]{0,8}吊在|"
    # rules-28: a pesticide or poison drunk or swallowed, named first or after ("把那瓶敌敌畏喝了", "喝农药")
    r"(喝|吃|吞|服)(了|下|掉)?[^，,]{0,3}"
    + _POISON_NAMES
    + _NOT_FOR_PESTS
    + "|把[^，,]{0,5}"
    + _POISON_NAMES
    + r"[^，,]{0,2}(喝|吃|吞|灌)(了|下去|掉)|"
    # rules-31: driving off a cliff or into the water ("开车从盘山公路冲下悬崖")
    r"冲下(悬崖|山崖)|(开车|连人带车)[^，,]{0,8}冲(进|下|入)[^，,]{0,2}(江|河|海|水库|湖|悬崖|山崖)|"
    # rules-34: charcoal bought and then burnt ("我就去买炭，在出租屋里烧了"), never for a barbecue or heating;
    # riding or driving into the traffic ("骑电动车冲进高速的货车道")
    r"买[^，,]{0,3}炭[，,]?[^，,。！？]{0,8}烧(了|掉|起来|上)(?![^，,]{0,3}(烤|火锅|取暖|肉|串))|"
    r"冲进[^，,]{0,6}(车流|货车道|逆行道|对向车道|大货车|货车|渣土车|车底)|撞(向|上)[^，,]{0,4}(大货车|货车|渣土车|迎面的车)|"
    # rules-35: "关上车库门发动车子一直开着"
    r"(关|锁)(上|好|紧)?车库门[^。！？]{0,6}(发动|打着|启动)[^。！？]{0,6}(一直开着|不熄火|不关))"
)
# rules-8: a sleeping pill named instead of "药" / "片" ("一整瓶安定都吃完了")
_PILL = r"(药|片|粒|安定|艾司唑仑|佐匹克隆|阿普唑仑|地西泮|氯硝西泮)"
_LETHAL_DRUGS = "(安眠药|安定|艾司唑仑|佐匹克隆|" + _ATTEMPT_POISONS + ")"


@dataclass(frozen=True)
class Rule:
    """One rule: a family, a name, the pattern that fires it and the level it raises a post to."""

    family: str
    name: str
    pattern: re.Pattern[str]
    floor: int
    description: str
    # the rule only fires when the whole post also matches this (a second, independent cue)
    requires: re.Pattern[str] | None = None
    # ... and never when the whole post matches this (an everyday look-alike: a barbecue, swimming)
    unless: re.Pattern[str] | None = None


@dataclass(frozen=True)
class RuleHit:
    """A rule that fired on a post: which one, the level it raises to, and where (offsets into the text)."""

    family: str
    rule: str
    floor: int
    start: int
    end: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {"family": self.family, "rule": self.rule, "floor": self.floor, "start": self.start, "end": self.end}


def _rule(
    family: str,
    name: str,
    pattern: str,
    floor: int,
    description: str,
    requires: str | None = None,
    unless: str | None = None,
) -> Rule:
    return Rule(
        family,
        name,
        re.compile(pattern),
        floor,
        description,
        re.compile(requires) if requires else None,
        re.compile(unless) if unless else None,
    )


_DEATH_CUE = r"(死|自杀|轻生|结束|遗书|再见|永别|离开这个世界|走了|不想活|活不下去|撑不下去)"
# what follows a time may cross one comma ("考完最后一门，我就从楼上跳下去"), never a sentence end
_GAP = r"[^。！？!?；;，,]{0,8}[，,]?[^。！？!?；;，,]{0,8}"
# rules-25: a plan's time and its act may stand further apart, across two commas ("下礼拜三发了工资，把房租交了，
# 晚上我就去江边跳下去"), still never across a sentence end; rules-28: parts of 14 characters, not 10
_PLAN_GAP = r"[^。！？!?；;，,]{0,14}(?:[，,]?[^。！？!?；;，,]{0,14}){0,2}"

_PILLS_AMOUNT = (
    r"(一整瓶|整瓶|一瓶|一整盒|整盒|一大把|一把|所有的?|全部的?|几十|几百|"  # a large amount
    r"[0-9]{2,}|[二三四五六七八九]十|[一二三四五六七八九]百)"
)
_HIGH_PLACE = r"(天台|楼顶|顶楼|楼顶上|桥上|桥的栏杆|栏杆|窗台|窗户外|悬崖|江边|河边|海边|铁轨|轨道)"
# standing, sitting or climbing at a high place now
# rules-14: lying or crouching there too (躺在铁轨上)
_AT_A_HEIGHT = (
    r"((现在|正|已经|此刻|马上)[^，,]{0,4}(站|坐|躺|蹲|在|爬上)|(站|坐|爬|躺|蹲)(在|上|到))[^，,]{0,6}" + _HIGH_PLACE
)
_EDGE_CUE = (
    r"(跳|再见|永别|结束|最后|拦不住|拦住我|不怕|不会再|下去|死|不回来|不回头|"
    # rules-4: in the water already, or a train coming
    r"(踩|走|泡|迈)(进|在)[^，,]{0,3}水|水(已经)?(没过|淹到|到了)|火车[^，,]{0,4}(来了|快来|就来|要来|开过来|快到|就到)|"
    # rules-8: waiting on the tracks for a train
    r"等[^，,]{0,3}(火车|列车|末班车|车开过来)|"
    # rules-14: a train, its light or its sound coming closer
    r"(火车|列车|车灯|灯光?|声音|汽笛)[^，,]{0,3}越来越(近|响|亮)|"
    # rules-20: the ear on the rails, the rails shaking
    r"贴着[^，,]{0,2}(铁轨|轨道)|(铁轨|轨道)[^，,]{0,4}(在)?(震|颤|抖|嗡嗡))"
)
# rules-30: "don't blame anyone", last words for the leave-taking rule and for settled_and_absent
_NO_BLAME = r"(谁|任何人)都?(别|不要|不用)怪"
# rules-5: a leave-taking, and in the same post a last arrangement, an apology or words for the grief
_LEAVE_TAKING = (
    r"(先走了|我走了|我要走了|我要离开了|先离开了|要离开(你们|大家|这个家|这里)了|离开(你们|大家)了|大家再见|各位再见|"
    r"大家保重|各位保重|(来世|来生|下辈子)(我们)?(再|还)(给(你们|您|你)|跟(你们|您|你))?(见|做|当)|下辈子(不要|别|不想)再(做人|当人|来)|别找我|不要找我|"
    # rules-10: "下辈子不要再做你们的孩子了"
    r"(下辈子|来世|来生)(不要|别|不想)再(做|当)(你们|您|你)的(孩子|女儿|儿子)|"
    r"不用找我|再也见不到(你们|大家)了|只能陪(你|你们)到这里|"
    # rules-8: "不能陪你变老了"
    r"不能(再)?陪(你|你们|您)(变老|到老|长大|走下去|走完))"
)
_LAST_ARRANGEMENT = (
    r"(对不起(爸|妈|爸妈|爸爸|妈妈|大家|所有人|你们)|(别|不要|不用)为我(哭|难过|伤心|流泪|掉眼泪)|"
    r"照顾好(爸|妈|我爸|我妈|爸妈|自己|他们|它|孩子)|替我(照顾|孝顺|陪)|拜托(你们|你|大家)|送人|送给|转给|留给|密码|"
    r"没有遗憾|最后一次|谢谢(你们|大家|所有)|这些年|用不上了|不能再陪|不会再回来|不回来了|下辈子|来世|来生|"
    # rules-30: "我走了，谁都别怪"
    + _NO_BLAME
    + ")"
)
# rules-30: a quiet farewell. The writer gone from the days to come (以后……陪不了了, 这辈子就到这了, 别再找我) ...
_ABSENT_FROM_NOW_ON = (
    r"((以后|往后|今后|从今以后|再也)[^。！？；!?]{0,12}(陪不了|送不了|接不了|顾不上|管不了|照顾不了|"
    r"不能(再)?(陪|给|送|照顾|还|看着|亲手)|(看不到|见不到|听不到)(我|俺))|这辈子(就|也就)?(到这|到此)|"
    r"就当(没|从来没|从没)(认识|有)过?我|(头像|账号)[^，,。]{0,6}不会再亮|替我(接着|好好)?(过|活)(?![个年节生])|"
    # rules-38: not an errand ("以后别再找我借钱")
    r"(别|不要|不用|莫)再?找(我|俺)(?![^，,。！？]{0,2}(借|帮|要|玩|吃|喝|办|买|拿|问|聊|打|麻烦|算账|报销|签))|(别|不要|不用|莫)再等(我|俺)|莫等(我|俺)|能带走的只有|没什么放不下|最后(放不下|惦记|牵挂)的(事|人)|"
    r"我去那边陪(爷爷|奶奶|外公|外婆|姥姥|姥爷)|最后能(给|为|替)(你|你们|您)|一走就不回来|这回真要走了|(安心|放心)地?走了|"
    # rules-31: "以后这些都得你记着了"
    r"以后[^。！？，,]{0,6}都?得(靠)?(你|您|你们)(记着|管|操心|照顾|自己)|"
    # rules-32: "以后别再为我这样的学生难过", "往后别惦记我", "以后爸妈就靠你了"
    r"(别|不要|不用)再?(为|替)我[^。！？，,]{0,8}(难过|伤心|哭|流泪)|(别|不要|不用)再?(惦记|挂念|记挂|牵挂)(我|俺)|"
    r"(以后|往后|今后)[^。！？，,]{0,4}(爸妈|爸|妈|咱爸|咱妈|家里|这个家|孩子)就?全?靠(你|您|你们)了)"
)
# ... and in the same post affairs settled or last words: a debt repaid, things, keys or passwords handed on, thanks,
# an apology
_AFFAIRS_SETTLED = (
    r"(该还的|一样不欠|谁也不欠|谁都不欠|还清|都清了|结清|(欠|借)[^。！？!?]{0,14}(还了|转过去了|转了|打过去了)|"
    r"留给|交给|托付|拜托|密码|钥匙|银行卡|存款|有了去处|遗物|收拾干净|交代(好|清楚)|"
    r"对不起|谢谢|感谢|承蒙|" + _NO_BLAME + r"|都是你的了|就这样吧|告辞|"
    # rules-31: giving up said as last words
    r"撑不下去了|撑不住了|"
    # rules-32: "爹这辈子对不住你们"
    r"对不住|辜负了)"
)
# ... unless the absence is an everyday departure: moving, studying or working elsewhere, a breakup, a trip
_ORDINARY_DEPARTURE = (
    r"(出国|留学|搬家|毕业|调走|调到|外地|出差|当兵|入伍|住校|分手|离婚|辞职|离职|转学|支教|加班|上班|新工作|换工作|"
    r"去[^，,。]{0,8}(工作|上班|打工|读书|上学)|旅行|旅游|住院|"
    # rules-38: leaving a job ("下个月退休了", "这是我最后一天送外卖")
    r"退休|转行|不干了|跳槽|离开这行|最后一天(上班|送|值班|营业|当)|"
    # rules-39: emigrating ("下个月全家移民新西兰", "到了加拿大再报平安")
    r"移民|定居|国外|报平安)"
)
_EVERYDAY_LEAVING = r"(明天见|回头见|下次见|晚点见|改天见|慢慢吃|慢慢玩|慢慢聊|有事先走|回家了|下班了)"
# ... or where the writer says they will be all right (rules-32: "别为我难过，我会好起来的"): the posts the quiet
# farewell rules (settled_and_absent, far_away_live_on) never fire on
_NOT_A_LAST_GOODBYE = "|".join((_EVERYDAY_LEAVING, _ORDINARY_DEPARTURE, r"(会好起来|会好的|我没事|挺过去|熬过去)"))
# rules-6: outside the railing or the window, feet over the drop, legs shaking
_OVER_THE_DROP = (
    r"((窗台|窗户|栏杆|护栏)(的)?(外面|外侧|外边)|悬空|腿(在|一直)?(发抖|发软)|"
    # rules-19: the legs or feet hanging over the edge ("两条腿垂在外面")
    r"(腿|脚)[^，,]{0,3}(垂|悬|伸|晃|荡)[^，,]{0,2}(外面|外边|外侧|半空|空中))"
)
# rules-14: the object-first attempt rules (the poison or the pill named, then swallowed). They never follow an act
# still to come: 就, 要, 会, 想, 打算, 准备 just before the name, or before a 把 anywhere in the post ("我就把那瓶农药
# 喝了": a plan has its own rules); the gap up to the verb holds no sentence end, no 被 (someone else's act) and
# no word of an act to come; the swallowing is done
_NOT_TO_COME = r"(?<![就要会想把])(?<!打算)(?<!准备)"
_TO_COME_WITH_BA = r"(就|要|会|想|打算|准备|等)把"
_UNTIL_SWALLOWED = r"[^。！？!?；;被就要会等]{0,14}"
_SWALLOWED = r"(了|下去|完了|掉了|光了)"
# rules-37 / rules-40: a joke's marks after a goodbye in the same sentence ("再见👋", "复活了再来群里吹水")
_NO_JOKE_AFTER = r"(?![^。！？]*(哈哈|😂|🤣|👋|doge|狗头|开玩笑|复活))"
# rules-40: the things an everyday 永别了 is said to, after it ("永别了我的头发", "永别了奶茶、炸鸡") ...
_THINGS_LOST = (
    r"(头发|刘海|发际线|年终奖|工资|奖金|钱包|存款|余额|零花钱|腹肌|身材|奶茶|炸鸡|火锅|烧烤|小龙虾|零食|宵夜|甜食|可乐|"
    r"周末|假期|暑假|寒假|懒觉|睡眠|聊天记录|照片|存档|手机|电脑|键盘|耳机)"
)
# ... or before it ("三年的聊天记录永别了"): one look-behind per word, as Python wants them of fixed width
_THINGS_BEFORE = ("头发", "刘海", "工资", "奖金", "存款", "记录", "照片", "存档", "周末", "假期")
_NOT_A_THING_LOST = "".join(f"(?<!{word}[了])(?<!{word})" for word in _THINGS_BEFORE)
# rules-40: an everyday reason to stop posting, for last_post (never a breakup or a loss: those start crises too)
_LAST_POST_REASON = (
    r"(备考|考研|考公|专心(学习|工作|备考|读书)|停更|不再更新|不更新了|换号|新号|小号|退圈|退坑|出国|留学|移民|搬家|毕业|"
    r"退休|离职|辞职|入伍|当兵|闭关)"
)
_NO_RETURN = r"(不会再回来|不回来了|不回头|回不来了|再也见不到|永别|忘了我|别想我)"

RULE_SET: tuple[Rule, ...] = (
    # ---- an attempt in progress: means taken or being used now (level 10: "possibly in progress")
    _rule(
        "attempt",
        "overdose_taken",
        r"(吃|吞|喝|服)(了|下|下了|完|掉|光)[^，,]{0,6}" + _PILLS_AMOUNT + r"[^，,]{0,4}" + _PILL + "|"
        r"把?" + _PILLS_AMOUNT + r"[^，,]{0,4}" + _PILL + r"[^，,]{0,3}(都|全)?(吃|吞|喝)(了|下|完|掉|光)",
        10,
        "a large amount of pills already taken",
    ),
    _rule(
        "attempt",
        "insulin_overdose",
        # rules-32: "刚把家里剩下的胰岛素全打进去了，手开始发抖冒冷汗"
        r"胰岛素[^，,]{0,6}(全|都|全部|一口气|一次)(打|注射|推)(进去|了|完|光)|"
        r"(打|注射|推)(了|完|进去)[^，,]{0,6}(几|两|三|四|五|六|好几|一整)(支|盒|管)[^，,]{0,2}胰岛素",
        10,
        "insulin injected all at once, with the body failing",
        requires=r"(发抖|冷汗|心慌|头晕|好晕|意识|低血糖|眼前发黑|睁不开|站不稳|对不起|别救)",
        unless=r"(误打|打错|医生|护士|遵医嘱)",
    ),
    _rule(
        "attempt",
        "poison_taken",
        r"(吃|吞|喝|服)(了|下|下了|完|掉|光)[^，,]{0,6}" + _POISONS,
        10,
        "poison already taken",
        # rules-29: not a pet or farm animal that ate it, an accident (误吃) or poison put out for rats (never the
        # crop it was bought for: "喝了半瓶打果树的农药" is an attempt)
        unless=r"(狗|猫|鸡|鸭|鹅|猪|牛|羊|兔|鸟|鱼)[^，,。！？]{0,4}(吃|喝|吞|舔|啃)|误(吃|喝|服|食)|灭鼠|毒老鼠|药老鼠",
    ),
    _rule(
        "attempt",
        "pills_and_waiting",
        r"(药|片)[^，,]{0,4}(吃|吞|喝)(下去|下|完|了)",
        10,
        "pills taken and the writer waiting for the end",
        requires=r"(等死|快了|再见|结束了|永别|对不起大家|不用救|走了|不想醒)",
    ),
    _rule(
        "attempt",
        "cut_now",
        r"((割|划)(开|破|了)[^，,]{0,4}(手腕|腕|动脉|血管)|(手腕|动脉|血管)[^，,]{0,4}(割|划)(开|破|了)|血(止不住|一直在流|流了好多))",
        10,
        "wrist or artery already cut, bleeding now",
    ),
    _rule(
        "attempt",
        "at_the_edge",
        _AT_A_HEIGHT,
        10,
        "standing on a roof, a bridge or a ledge now",
        requires=_EDGE_CUE,
    ),
    _rule(
        "attempt",
        "gas_or_charcoal_lit",
        r"((炭|碳)[^，,]{0,4}(点上|点着|点燃|烧起来|已经点)|(煤气|燃气)[^，,]{0,4}(打开|开着|已经开))",
        10,
        "charcoal lit or gas turned on",
        unless=r"(烤|烧烤|火锅|涮)",  # rules-6: not a barbecue
    ),
    # rules-6: over the drop, a cut made and bleeding, charcoal burning in a closed room, in the water
    _rule(
        "attempt",
        "over_the_drop",
        _AT_A_HEIGHT,
        10,
        "at a height, outside the railing or with the feet over the drop",
        requires=_OVER_THE_DROP,
        unless=r"(拍照|自拍|打卡|风景|蹦极|攀岩|施工|擦玻璃)",
    ),
    _rule(
        "attempt",
        "cut_and_bleeding",
        r"(割|划)(完|下去|开了|了[^，,]{0,3}刀)",
        10,
        "a cut just made, and blood",
        requires=r"血",
        unless=r"(手指|切菜|削|韭菜|麦子|草|剃|刮胡)",
    ),
    _rule(
        "attempt",
        "charcoal_burning",
        r"(炭|碳)(盆|火)?[^，,]{0,6}(烧着|在烧|烧上|烧起来|点上|点着|点燃|生起来)",
        10,
        "charcoal burning in a closed room",
        requires=r"(门窗|封(好|上|住|死)|关(上|好|紧)|房间|屋里|卫生间|厕所|浴室|车里|床边|床头|密闭)",
        unless=r"(烤|烧烤|火锅|涮|取暖|暖和|烧水|煮)",
    ),
    _rule(
        "attempt",
        "into_the_water",
        r"(走进|走到|跳进|泡在|站在|在)[^，,]{0,2}(海|河|江|湖|水库)(里|中|水里)",
        10,
        "in the sea or a river, going deeper",
        # rules-14: "水快到下巴了" (已经, 快, 都 or 就 before the verb)
        requires=r"(水(已经|快|都|就)?要?(到|没过|淹到|漫到|淹没)[^，,]{0,3}(胸|脖子|腰|下巴|嘴|头)|越来越深|快没力气|没力气了|回不去了|"
        # rules-19: going deeper, the waves at the face
        r"往(深处|深水|更深)|(浪|水)(已经|快|都)?(打到|拍到|漫到|没过|淹到)[^，,]{0,3}(脸|胸|脖子|下巴|嘴|头))",
        unless=r"(游泳|游了|冲浪|浮潜|潜水|救生|玩水|度假|泳|钓鱼|划船|捞)",
    ),
    _rule(
        "attempt",
        "noose_ready",
        # rules-10: "绳子已经套在脖子上了"
        r"绳子?[^，,]{0,4}(挂好|系好|套上|套好|已经挂|(套|勒|绕)(在|住)(我的?)?脖子)|"
        # rules-24: another cord round the neck ("把数据线系在扶手上套住脖子")
        r"(" + _CORDS + r")[^，,]{0,8}(套|勒)(在|住|上)(我的?)?脖子|"
        # rules-14: told from the neck ("脖子已经伸进绳套里了")
        r"脖子[^，,]{0,4}(套进|伸进|钻进|放进)[^，,]{0,2}(绳子|绳套|绳圈|绞索|套索|绳)",
        10,
        "a noose hung",
    ),
    # rules-10: several boxes or bottles of pills swallowed ("刚刚吃下了三盒安眠药"; a whole box or bottle is
    # overdose_taken's): a sleeping pill or poison named is enough; other pills need the body failing or a
    # goodbye in the same post
    _rule(
        "attempt",
        "boxes_of_pills_taken",
        r"(吃|吞|服)(了|下|下了|完|掉|光)[^，,]{0,6}([两三四五六七八九十几]+(盒|瓶|板)|一(盒|板))[^，,]{0,4}" + _PILL,
        10,
        "several boxes or bottles of pills already taken",
        requires=_LETHAL_DRUGS
        + r"|(头晕|好晕|意识|模糊|眼皮|睁不开|发麻|站不稳|想睡|好困|心跳|想吐|对不起|再见|永别|等死|不想醒)",
        unless=r"(感冒|消炎|维生素|钙片|胃药|中药|止咳|疗程|保健|益生菌|鱼油|维C|退烧|医生开的)",
    ),
    # rules-10: shut in a car with the engine running
    _rule(
        "attempt",
        "exhaust_in_car",
        r"(把自己)?(关|锁|坐|躺)在[^，,]{0,4}车(里|内|上)",
        10,
        "shut in a car with the engine running",
        requires=r"(发动机|引擎|尾气|没熄火|不熄火|打着火)",
        unless=r"(空调|暖气|等人|等你|堵车|接孩子|睡一觉|午睡|充电)",
    ),
    # rules-19: a hose led from the exhaust into the car ("排气管接了管子通进车窗")
    _rule(
        "attempt",
        "exhaust_hose",
        r"(排气管|尾气管|尾气)[^，,]{0,6}(接|插|连|通|引)[^，,]{0,6}(车窗|车里|车内|车厢|进来|进车)",
        10,
        "a hose from the exhaust led into the car",
        unless=r"(修车|维修|4S|检测|年检|改装)",
    ),
    # rules-20: the bath water turned red (bleeding in the tub)
    _rule(
        "attempt",
        "bath_turned_red",
        r"(浴缸|浴盆)[^，,]{0,4}水[^，,]{0,4}(红了|变红|染红|都是血|全是血)",
        10,
        "the water of the bath turned red with blood",
        unless=r"(浴球|泡泡|花瓣|精油|玫瑰|染发|色素|颜料|宝宝|孩子|小朋友)",
    ),
    # rules-14: means in use, told in other word orders than the rules above knew (the seen suites' misses)
    _rule(
        "attempt",
        "over_the_railing",
        r"(翻|爬|跨)(过|出|到|上)了?[^，,]{0,4}(栏杆|护栏)",
        10,
        "over a balcony's or a bridge's railing, the drop below",
        requires=r"(外面|外侧|外边|空调架|脚下|[0-9一二三四五六七八九十几]+(层|楼)|悬空|腿(在|一直)?(发抖|发软)|往下(看|跳))",
        unless=r"(捡|球|风筝|拍照|自拍|打卡|施工|维修|救|抄近路|逃票|小偷|演习)",
    ),
    _rule(
        "attempt",
        "gas_in_closed_room",
        r"(打开|拧开|开了|开着|放)[^，,]{0,2}(煤气|燃气|天然气)|(煤气|燃气|天然气)[^，,]{0,4}(打开了|开着|已经开|开了)",
        10,
        "gas turned on in a room shut from the inside",
        requires=r"(门窗|反锁|(关|封|堵)(上|好|紧|死|住)|胶带|密闭|门缝)",
        unless=r"(做饭|烧水|炒|煮|热水器|洗澡|灶|维修|检修|物业|报警器|忘了关|没关)",
    ),
    _rule(
        "attempt",
        "engine_running_closed",
        r"车[^，,]{0,4}(一直)?(没熄火|不熄火|没有熄火|发动着|打着火)",
        10,
        "a car's engine running in a closed garage, the writer drowsy",
        # both: a closed space and the body or a goodbye ("车库门关死了……我有点困")
        requires=r"^(?=[\s\S]*(车库|关(死|上|好|紧)|门窗|封(好|上|住|死)|密闭))"
        r"(?=[\s\S]*(困|想睡|睡着|晕|头疼|喘不上气|呼吸|再见|永别|对不起|结束))",
        unless=r"(空调|暖气|等人|等你|堵车|接孩子|午睡|充电|热车|修车|4S店|保养)",
    ),
    _rule(
        "attempt",
        "poison_then_taken",
        _NOT_TO_COME + r"把?(农药|敌敌畏|百草枯|氰化物)" + _UNTIL_SWALLOWED + r"(吃|喝|吞|灌|服)" + _SWALLOWED,
        10,
        "poison named, then swallowed",
        unless=r"(喷|打药|庄稼|果树|菜地|地里|杀虫|除草|老鼠|耗子|鸡|鸭|猪|牛|羊|狗|猫|" + _TO_COME_WITH_BA + ")",
    ),
    _rule(
        "attempt",
        "pills_then_taken",
        _NOT_TO_COME
        + r"把?(安眠药|安定|艾司唑仑|佐匹克隆|阿普唑仑|地西泮|氯硝西泮|唑吡坦)"
        + _UNTIL_SWALLOWED
        + r"(全部|都|全|一口气)(吃|吞|喝|服)"
        + _SWALLOWED,
        10,
        "sleeping pills named, then all swallowed, and the body failing or a goodbye",
        requires=r"(头晕|好晕|发麻|意识|模糊|睁不开|站不稳|想吐|心跳|对不起|再见|永别|等死|不想醒|别救|结束)",
        unless=r"(医生开的|遵医嘱|再开|去开|配药|续药|买药|" + _TO_COME_WITH_BA + ")",
    ),
    # ---- a farewell or a last post (level 8: planned, the end close)
    _rule(
        "farewell",
        "last_post",
        r"(这是|这会是|应该是)[^，,]{0,8}最后一(条|篇|次|句|个|封)"
        # rules-33: a few words may stand between ("这是我最后一次给你发消息", "最后一次跟你说晚安")
        r"([^，,。！？]{0,5}?(发|说|写|回))?(微博|动态|朋友圈|消息|说说|留言|话|晚安|信|更新)|"
        r"最后一封(信|遗书)|最后一次说晚安",
        8,
        "says this is the writer's last post or letter",
        requires=r"^(?![^。！？]*(今年|本年|年度|20[0-9]{2}年|这个月|本月|本周|这周|今天的))",
        # rules-40: never with an everyday reason to stop posting ("最后一条微博，准备专心备考了")
        unless=_LAST_POST_REASON,
    ),
    _rule(
        "farewell",
        "note_written",
        # rules-19: left under, in or between something ("遗书压在台灯下面")
        r"((写好|写完|写下|留下|留好)了?[^，,]{0,3}遗书|遗书[^，,]{0,3}(写好|写完|放在|留在|已经写|压在|塞在|夹在|藏在|搁在|放到|放进|"
        # rules-24: recorded or stored ("遗书录成语音存在手机里了")
        r"录成|录好|录完|存在|存进|设了定时|定时发)|"
        r"这是我的遗书)",
        8,
        "a suicide note written",
    ),
    _rule(
        "farewell",
        "goodbye_world",
        # rules-10: the world may follow a comma and a few words ("再见了，这个让我失望的世界"); never 世界杯
        # rules-40: 永别了 and 先走一步 never said to a thing lost ("永别了我的头发", "聊天记录永别了") nor with a
        # joke's marks after them in the sentence ("我先走一步，复活了再来群里吹水")
        r"(" + _NOT_A_THING_LOST + r"永别了(?![，,]?(我的)?" + _THINGS_LOST + r")" + _NO_JOKE_AFTER + r"|"
        r"先走一步" + _NO_JOKE_AFTER + r"|"
        r"再见了?[，,]?[^，,]{0,8}世界(?!杯)|来生再见|下辈子再见|下辈子见|不用救我|别来找我|不要找我|"
        r"我应该已经不在了|我已经不在了|不用再等我|别再等我|不要再等我|"
        # rules-35: "我要去死了，别找我" (with a goodbye; "考砸了我要去死了" alone is hyperbole)
        r"我(要|这就|现在就|马上就|今晚就)去死了?(?=[^。！？]{0,4}[，,。！!]?[^。！？]{0,6}(别找我|不要找我|别打|关机|再见|永别|保重))"
        # rules-37: ... never with a joke's marks after it in the sentence ("作业写不完，我要去死了，再见👋")
         + _NO_JOKE_AFTER + r"|"
        # rules-34: "明早你醒来我就不在了", "等你看到这条我应该就不在了"
        r"(醒来|醒过来|睁开眼|看到这条|看到这些|看到的时候|收到这条)[^，,。]{0,6}我(就|应该|可能|大概)?(已经)?(就)?不在了|"
        # rules-20: "以后不用等我了" (not 等我吃饭)
        r"(以后|今后)都?(不用|别|不要)再?等我了|"
        # rules-8: read after the writer is gone
        r"我(应该|可能|大概)?已经(去了另一个世界|在另一个世界|离开(了)?这个世界))",
        8,
        "a goodbye to the world or to the readers",
    ),
    _rule(
        "farewell",
        "gone_for_good",
        r"(去|到)[^，,]{0,2}(一个)?(很远|遥远|没有痛苦)的地方|去另一个世界|去天堂",
        8,
        "going to a far place or another world, not to come back",
        requires=_NO_RETURN,
    ),
    # rules-41: quiet farewells that the rules before missed (read in 60 quiet farewells a helper wrote)
    _rule(
        "farewell",
        "done_with_the_world",
        r"这个世界我?(已经|真的)?(待|呆|活)够了|这个世界我?也?不(想)?要了|(不想|不愿意?)再?(看见|看到|见到)明天的太阳",
        8,
        "done with the world, with a goodbye or a last arrangement",
        requires=r"(再见|永别|告别|留着吧|送给|送人|留给|用不上|对不起|谢谢|别难过|不要难过|保重)",
    ),
    _rule(
        "farewell",
        "painless_place",
        r"(去|到)了?[^，,。！？]{0,4}(一个)?(不会再|再也不会|再不会|永远不会)(失眠|疼|痛|难过|哭|醒|累|痛苦)[^，,。！？]{0,2}的地方",
        8,
        "going to a place with no more pain or sleeplessness",
        unless=r"(民宿|酒店|旅游|度假|乡下|海岛|休假|旅行|搬家|新家|新工作)",
    ),
    _rule(
        "farewell",
        "last_goodnight",
        r"晚安[，,]?(是)?永远的那种|永远的晚安|(今天|今晚)?就?给自己画(上)?(一)?个?(句号|休止符)(?!的)",
        8,
        "a goodnight for ever, or a full stop put to the writer's own life",
        unless=r"(这一年|年度|学期|毕业|大学|工作|项目|比赛|旅程|考研|总结|恋爱|感情)",
    ),
    _rule(
        "farewell",
        "own_funeral_arranged",
        r"((帮|替|给)我(处理|料理|办|安排)(好)?后事|后事[^，,。！？]{0,6}(帮|替)我(处理|料理|办|安排))"
        + _NO_JOKE_AFTER,
        8,
        "someone will arrange the writer's own funeral",
    ),
    _rule(
        "farewell",
        "giving_up_with_last_words",
        r"(不想活了|活不下去了|撑不下去了|不想再(继续|活|撑|熬)(下去)?了)",
        8,
        "giving up on living, said with last words (a last post, do not grieve, look after them)",
        requires=r"(最后一(篇|条|次)|不会再更新|(别|不要|不用)(太)?难过|对不起所有|照顾好|这辈子太失败)",
    ),
    _rule(
        "farewell",
        "far_away_live_on",
        # rules-32: "妈妈要去很远很远的地方了，以后要听爸爸的话，好好长大"
        r"(去|到)[^，,]{0,2}(一个)?(很远|遥远)的地方",
        8,
        "going to a far place, with how those left are to live on",
        requires=r"(以后|往后)[^。！？]{0,4}(要|得)?(听[^，,。]{0,4}话|好好(吃饭|长大|活|照顾自己|过)|照顾好自己)|会一直(爱|想|陪)(你|你们)|好好长大|"
        # rules-33: "你要听爸爸的话", "妈妈永远爱你", "不能陪你长大了"
        r"(你|你们)要听[^，,。]{0,4}话|永远爱(你|你们)|不能(再)?陪(你|你们)长大",
        unless=_NOT_A_LAST_GOODBYE,
    ),
    _rule(
        "farewell",
        "after_i_am_gone",
        r"(我|等我)(走|死|不在)了?(以后|之后)" + _GAP + r"(注销|遗物|照顾好?(我|爸|妈|猫|狗)|别难过|不要难过|替我活)",
        8,
        "instructions for after the writer is gone",
    ),
    _rule(
        "farewell",
        "entrusting",
        r"(猫|狗|狗狗|猫咪|孩子|爸妈|我妈|我爸)[^，,]{0,3}(就)?(拜托|交给|托付给|麻烦)(你|[^，,]{1,4}照顾)",
        8,
        "entrusting a pet or family to someone, with a farewell",
        requires=r"(不会再回来|不回来了|回不来了|很远的地方|永别|(我|等我)(走|死|不在)了?(以后|之后)|(不用|不要|别)再担心我)",
    ),
    _rule(
        "farewell",
        "no_more_posts",
        r"(不会再|再也不会|以后不会再|不再)(更新|发(微博|动态|朋友圈))",
        8,
        "no more posts, with thanks for the company",
        requires=r"(谢谢|感谢)[^。！？]{0,12}(陪伴|陪我|照顾)",
    ),
    _rule(
        "farewell",
        "goodbye_and_arrangements",
        _LEAVE_TAKING,
        8,
        "a leave-taking with a last arrangement, an apology or words for the grief",
        requires=_LAST_ARRANGEMENT,
        unless=_EVERYDAY_LEAVING,
    ),
    _rule(
        "farewell",
        "joining_the_dead",
        # rules-31: "(at grandmother's grave) 跟她说我很快就来陪她了"
        r"(很快|马上|快|这就|不久)就?(要)?(来|去)陪(你|她|他|您|你们|他们)了?",
        8,
        "telling the dead, at a grave, that the writer will soon join them",
        requires=r"(坟|墓|扫墓|祭拜|忌日|骨灰|灵前|遗像|在天上|在天之灵)",
    ),
    _rule(
        "farewell",
        "settled_and_absent",
        _ABSENT_FROM_NOW_ON,
        8,
        "the writer gone from the days to come, with affairs settled, thanks or an apology",
        requires=_AFFAIRS_SETTLED,
        unless=_NOT_A_LAST_GOODBYE,
    ),
    # ---- a plan with a time (level 8: "planned, date roughly set")
    _rule(
        "plan_with_time",
        "time_and_act",
        _TIME + _PLAN_GAP + _DIE,
        8,
        "a time and a way to die in one sentence",
    ),
    _rule(
        "plan_with_time",
        "time_and_place",
        _TIME + _PLAN_GAP + r"(去|到|上|爬上)[^，,]{0,3}" + _HIGH_PLACE,
        8,
        "a time and a high place or water, not to come back",
        requires=r"(不会再回来|不回来了|不回头|回不来了|最后一(次|天|眼)|跳下去|跳(江|河|海|楼|桥)|永别|结束(自己|生命|这一切)|去死)",
    ),
    _rule(
        "plan_with_time",
        "means_hidden_and_time",
        r"(农药|敌敌畏|百草枯|安眠药|药|炭|木炭|绳子|刀片)[^，,]{0,4}藏(好|在|起来)",
        8,
        "lethal means hidden, and a time to use them (rules-8)",
        requires=_TIME + _GAP + r"就(喝|吃|吞|烧|动手|上吊|用)",
    ),
    _rule(
        "plan_with_time",
        "after_this_then_die",
        r"(等|考完|过完|忙完|办完|送走|交代完)[^。！？!?；;]{1,12}(以后|之后|那天)?[，,]?我?就[^，,]{0,4}" + _DIE,
        8,
        "dying set for after an event",
    ),
    _rule(
        "plan_with_time",
        "last_days",
        r"活着的最后一(天|周|晚|个月|个星期)|(最后|剩下)的(几天|日子)[^，,]{0,6}(安排|交代)|"
        # rules-10: "元旦那天就是我的最后一天了", not the last day of a holiday, a job or a course
        r"就是我(的|人生的|生命的|在这世上的)最后一(天|晚|夜)(?![假期班课])",
        8,
        "the writer's last days counted",
    ),
    _rule(
        "plan_with_time",
        "act_and_time",
        _DIE + r"[^，,]{0,4}(的日子|的时间)?[^，,]{0,3}(定在|就在|选在)",
        8,
        "a date set for dying",
    ),
    # ---- a pact or a search for a method (level 6: "suicide being planned")
    _rule(
        "pact_or_method",
        "pact",
        r"(约死|约自杀|约烧炭|约跳|一起(去)?(死|自杀|烧炭|跳楼|跳河|走吧))",
        6,
        "looking for others to die with",
    ),
    _rule(
        "pact_or_method",
        "method_search",
        r"((怎么|怎样|如何|哪种)(死|自杀)[^，,]{0,4}(不疼|不痛|最快|最舒服|没有?痛苦|最好)|"
        r"(哪里|哪儿|怎么|怎样)(能|可以)?买[^，,]{0,4}" + _LETHAL_DRUGS + r")",
        6,
        "asking for a painless or quick method, or where to get poison",
    ),
    # ---- rules-7: a plain wish to die (level 4: the "wish" tier; not flagged high risk, see the docstring)
    _rule(
        "wish",
        "first_person_wish",
        r"(我|真的?|好|很|只)想(去)?死|想(去)?自杀(?!的人|的朋友|者)|不想(再)?活(了|下去)|活不下去了|"
        r"想结束(自己的生命|自己|这一切|生命)|想一了百了",
        4,
        "the writer's own wish to die, said plainly (raises the level to 4; the flag stays the models')",
        # everyday hyperbole: "疼得想死", "累到我好想死", "腿酸得不想活了"
        unless=r"[得到](我)?(真的?|好|很|都|快)?(想(去)?死|不想(再)?活)",
    ),
)
# rules-12: cues that a post is not the writer's own present act, for the plain-danger net's own-voice bar
# (has_context_cue): someone else opening the post, everyday hyperbole built on 死, and recovery words
# (hearsay before the subject, "听说同学……", is _HEARSAY's, below)
_OPENS_WITH_OTHER = re.compile(r"^(我们?(家|村|班|楼|小区|单位|公司)?的?)?" + _OTHER_SUBJECT.pattern)
_HYPERBOLE = re.compile(
    r"(冷|热|累|饿|烦|气|笑|困|忙|吓|丑|渴|晒|冻|撑|闷|无聊|尴尬|羡慕|馋|急|懒|美|帅|酸|咸|辣)死(我|人|了|啦)"
)
_RECOVERY = re.compile(r"(戒掉|康复|好转|走出来|熬过来|挺过来|已经过去|过去了)")
# rules-13: hearsay opening the post, whoever it is about, and internet hyperbole without 死
_HEARSAY = re.compile(r"^(听说|据说)")
_SLANG = re.compile(r"(心(都)?在滴血|心态(都)?崩了|会谢|烧干|升天|当场去世|原地去世|魂都没了|笑死|当场阵亡|原地阵亡)")

# The other-subject check is skipped for families whose phrases are about the writer by their nature
# ("先走一步") or name others anyway (a pact: "有人约烧炭吗").
_FIRST_PERSON_FAMILIES = frozenset({"farewell", "pact_or_method"})
# rules-31: ... except a note, which may be someone else's ("网友刚跟我说遗书写好了")
_OTHERS_MAY_WRITE = frozenset({"note_written"})
# rules-15: someone's words reported about a third person ("闺蜜说她已经写好了遗书"), in the part of the sentence
# (up to a comma) where the match starts: no rule of any family fires there. The writer's own words to someone
# ("我跟朋友说我明天就……") and another part of the sentence ("男朋友说他不在乎我，遗书写好了") still fire.
_SEGMENT_START = re.compile(r"[^，,]*$")
# rules-16: the writer as a subject after someone else was named (我, not 我们 or 我的), unless a verb or
# preposition before it makes it an object (跟我, 私信我, 让我 ...)
# rules-17: "我是一名学生", "作为一位母亲": the writer introduced, not someone reported
_SELF_INTRODUCTION = re.compile(r"[是为]一[名位]")
# rules-17: "我是高三学生", "作为一个姐姐": the writer describing themself, not someone else
_INTRODUCED = re.compile(r"(我是|作为|身为)[^，,]{0,6}$")
# (rules-17: nor 我国, 我市, 我校 ..., news' "our country, city, school"; nor 自我, "self")
_ME = re.compile(r"我(?![们的国省市县区镇乡村校院司军方局厅部所])")
_OBJECT_BEFORE = re.compile(
    r"(跟|对|给|和|向|告诉|私信|问|让|叫|劝|求|找|带|陪|帮|替|被|把|骂|逼|催|教|喊|约|拉|通知|提醒|安慰|看|像|比|"
    r"嫌|怪|说服|留|害|打|拿|自)$"
)
_REPORTS_THIRD = re.compile(r"(^|[^我])说(她|他)")


def _clauses(text: str) -> list[tuple[int, str]]:
    """``(offset, clause)`` pairs of ``text``."""
    out: list[tuple[int, str]] = []
    start = 0
    for match in _CLAUSE_SPLIT.finditer(text):
        if match.start() > start:
            out.append((start, text[start : match.start()]))
        start = match.end()
    if start < len(text):
        out.append((start, text[start:]))
    return out


def _negated(clause: str, at: int) -> bool:
    """Whether the words just before position ``at`` of the clause negate what follows."""
    return bool(_NEGATION.search(clause[max(0, at - 4) : at]))


def _someone_else_before(clause: str, at: int, until: int | None = None) -> bool:
    """Whether someone else is the subject nearest before position ``at``: named there ("朋友吃了……") with no
    first-person subject after it (rules-16: "老公还在睡，我已经把……", "我跟妈妈说了我今晚就……" are the
    writer's own acts; "网友私信我说……", "男朋友说如果我离开他他就……" are not, since the 我 there is an object
    or someone else comes after it). The writer may stand up to ``until`` (rules-31: inside a plan's match, after
    its time: "等把闺女送去她外婆家，礼拜天晚上我就……")."""
    others = [
        other for other in _OTHER_SUBJECT.finditer(clause, 0, at) if not _INTRODUCED.search(clause, 0, other.start())
    ]
    if not others:
        return False
    return not _writer_after(clause, others[-1].end(), at if until is None else until)


def _in_title(text: str, at: int) -> bool:
    """Whether position ``at`` lies inside a title in 《》 (a book, a film, a song: rules-17, "《永别了，武器》")."""
    return text.rfind("《", 0, at) > text.rfind("》", 0, at)


def _writer_subjects(text: str, start: int, end: int) -> list[int]:
    """Where the writer stands as a subject (我, not as an object) between ``start`` and ``end`` of ``text``: the
    end of each such 我."""
    return [me.end() for me in _ME.finditer(text, start, end) if not _OBJECT_BEFORE.search(text, 0, me.start())]


def _writer_after(text: str, start: int, end: int) -> bool:
    """Whether the writer stands as a subject between ``start`` and ``end`` of ``text``."""
    return bool(_writer_subjects(text, start, end))


def _reports_someone_else(clause: str, at: int) -> bool:
    """Whether the part of the sentence before position ``at`` (back to a comma) reports someone's words about a
    third person ("闺蜜说她……", "同事跟我说他……"; rules-15)."""
    segment = _SEGMENT_START.search(clause[:at])
    return bool(segment and _REPORTS_THIRD.search(segment.group(0)))


def _in_the_past(clause: str, match: re.Match[str]) -> bool:
    """Whether the clause tells ``match`` as past: a past word after its start, or a past word before it with
    no time to come or "now" after a comma between that word and the match's end (rules-11: "去年没死成，今晚
    我就……"; before, any past word anywhere in the clause sufficed)."""
    if _PAST.search(clause, match.start()):
        return True
    before = list(_PAST.finditer(clause, 0, match.start()))
    if not before:
        return False
    # the time to come must open a later part of the sentence: "那时候想过明天就……" is still a memory
    comma = _COMMA.search(clause, before[-1].end(), match.end())
    return comma is None or not _NOW_AGAIN.search(clause, comma.end(), match.end())


def match_rules(text: str, rules: Sequence[Rule] = RULE_SET) -> list[RuleHit]:
    """Every rule of ``rules`` that fires on ``text``, at most one hit per rule."""
    if not text:
        return []
    # News, fiction or teaching in the post: a match counts only after the last such word, with the writer as
    # a subject between them ("看了一部电影，哭完我就把……"; rules-17: before, any such word silenced the post)
    reported = [cue.end() for cue in _REPORTED.finditer(text) if not _SELF_INTRODUCTION.match(text, cue.start() - 1)]
    own_from = reported[-1] if reported else 0
    if reported and not _writer_after(text, own_from, len(text)):
        return []
    hits: list[RuleHit] = []
    clauses = list(_clauses(text))
    for rule in rules:
        if rule.requires is not None and not rule.requires.search(text):
            continue
        if rule.unless is not None and rule.unless.search(text):
            continue
        for offset, clause in clauses:
            if not rule.pattern.search(clause):  # most clauses: no need to read the matches one by one
                continue
            match = next(
                (
                    m
                    for m in rule.pattern.finditer(clause)
                    if (not reported or _writer_after(text, own_from, offset + m.start()))
                    and not _in_title(text, offset + m.start())
                    and not _in_the_past(clause, m)
                    and not _negated(clause, m.start())
                    and (
                        (rule.family in _FIRST_PERSON_FAMILIES and rule.name not in _OTHERS_MAY_WRITE)
                        or not _someone_else_before(
                            clause, m.start(), m.end() if rule.family == "plan_with_time" else None
                        )
                    )
                    and not _reports_someone_else(clause, m.start())
                ),
                None,
            )
            if match is not None:
                hits.append(RuleHit(rule.family, rule.name, rule.floor, offset + match.start(), offset + match.end()))
                break
    return hits


# rules-18: help asked for someone else in danger (:func:`about_someone_else`): the danger words it looks for,
# the requests for help, the verbs that report another person's words or acts, and "oneself" said of the writer
_DANGER_WORDS = re.compile(
    r"(自杀|轻生|寻死|想死|去死|不想活|活不下去|跳楼|跳河|跳江|跳海|跳下去|烧炭|割腕|上吊|吃药|安眠药|农药|遗书|"
    r"结束(自己的)?生命|离开这个世界|最后一晚|了结)"
)
_HELP_ASKED = re.compile(
    r"(怎么办|该怎么|要怎么|怎么做|怎么劝|怎么处理|怎么安慰|怎么陪|怎么报警|怎么联系|怎么举报|还能做什么|该做什么|能做什么|"
    r"该找谁|求建议|有什么办法|应该怎么|该不该|要不要报警|应该跟|该跟|报警有用吗|我该|我应该|如何|"
    # rules-27: everyday and dialect forms of the same questions
    r"咋办|能做点啥|能做些什么|打给谁|联系谁|打哪个电话|该说什么|该准备什么)"
)
# rules-27: someone else named without a danger word of ours (a customer, a passenger, a girl on a bridge): the people
# of the other-subject check (学生, 网友, 姐姐 ... are theirs), a person introduced by 一个 / 有个 ("有个老客户",
# "一个姑娘"), and the writer's parents
_PERSON_INTRODUCED = (
    r"(有个|有一个|一个|有位|一位|那个|这个)[^，,。！？]{0,8}?(人|客户|顾客|会员|乘客|老粉|员工|实习生|姑娘|女孩|男孩|"
    r"小伙子?|小孩|阿姨|女生|男生)"
)
_SOMEONE_NAMED = re.compile(_OTHER_SUBJECT.pattern + "|" + _PERSON_INTRODUCED + r"|我(妈|爸)")
# ... and no word of death, of the writer's own life or of giving up, which would make the writer's own danger possible
_OWN_DEATH_WORDS = re.compile(r"死|自杀|轻生|活着|不想活|活不下去|撑不下去|撑不住|熬不下去|消失|解脱|结束这一切")
_REPORTING_VERB = re.compile(r"(说|写|发|私信|告诉|提到|留言|挂在嘴边|查|搜|闹着|喊着|嚷着|威胁|表示)")
_ONESELF = re.compile(r"(?<![他她其])自己")


def _told_of_someone_else(text: str, at: int) -> bool:
    """Whether the danger word at ``at`` is told of someone else: that person is the nearest subject before it
    (as for the rules), a verb between them reports their words or acts, and no "oneself" of the writer's
    (自己, not 他自己) follows them."""
    if not _someone_else_before(text, at):
        return False
    writer = _writer_subjects(text, 0, at)
    other = next(_OTHER_SUBJECT.finditer(text, writer[-1] if writer else 0, at), None)
    if other is None or not _REPORTING_VERB.search(text, other.start(), at):
        return False
    return not _ONESELF.search(text, other.start(), at)


def asks_help_for_someone_else(text: str) -> bool:
    """Whether ``text`` asks how to help (怎么办, 怎么劝, 怎么报警, 该咋办 ...) someone else: it names a danger (跳楼,
    割腕, 遗书 ...) and tells every danger word of someone else (:func:`_told_of_someone_else`: "同事这几天总说想从公司
    楼上跳下去，我该怎么劝他"), or (rules-27) it names no danger word of ours but names someone else (a customer, a
    passenger, 一个姑娘, 我妈) and no word of death or of the writer's own life ("我在桥头摆摊，连着三晚看见同一个
    姑娘趴栏杆上往下看……我该咋办"), whatever the rules say. The scope stage asks it of posts no regex rule raised
    (since rules-27 also of those the plain-danger net raised). The writer's own words with no 我 ("室友都睡了，好想
    吃药结束这一切，我该怎么办") name nobody else as the subject of the danger."""
    if not text or not _HELP_ASKED.search(text):
        return False
    dangers = list(_DANGER_WORDS.finditer(text))
    if not dangers:
        return bool(_SOMEONE_NAMED.search(text)) and not _OWN_DEATH_WORDS.search(text) and not _ONESELF.search(text)
    return all(_told_of_someone_else(text, danger.start()) for danger in dangers)


def about_someone_else(text: str) -> bool:
    """Whether ``text`` asks how to help someone else in danger and tells no danger of the writer's own
    (rules-18): :func:`asks_help_for_someone_else`, and no rule fires. Not a safety-net rule: the scope stage
    takes such a post, which its gate or (rules-27) its plain-danger net kept, out of scope, where no regex rule
    fired on it."""
    return asks_help_for_someone_else(text) and not match_rules(text)


def has_context_cue(text: str) -> bool:
    """Whether ``text`` carries a cue that it is not the writer's own present act: reported text (news,
    fiction, teaching), a past word or a rescue anywhere, someone else or hearsay opening the post
    ("邻居家的大哥……", "听说……"), everyday hyperbole ("冷死我了", "心都在滴血") or recovery words
    ("戒掉", "走出来", "已经过去").
    Coarser than the rules' clause-by-clause reading on purpose: the plain-danger net's own-voice and inside
    bars, which read it, must stay quiet wherever a reviewer would not expect the writer's own danger."""
    return bool(
        _REPORTED.search(text)
        or _PAST.search(text)
        or _OPENS_WITH_OTHER.search(text)
        or _HYPERBOLE.search(text)
        or _RECOVERY.search(text)
        or _HEARSAY.search(text)
        or _SLANG.search(text)
    )


def rule_floors(hits_per_text: Sequence[Sequence[RuleHit]]) -> np.ndarray:
    """The highest floor of each text's hits, or -1 where no rule fired."""
    return np.array([max((h.floor for h in hits), default=-1) for hits in hits_per_text], dtype=np.int64)


def families() -> list[str]:
    """The rule families in :data:`RULE_SET`, in order."""
    return list(dict.fromkeys(rule.family for rule in RULE_SET))
