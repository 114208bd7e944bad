"""Augmentation: plans, guards, offline synonym replacement, back-translation and generation against a
scripted local endpoint, the augmented training file, and the authors' pools."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sosrisk.augment import AugmentResources, AugmentSpec, augment_posts, plan_balance, write_augmented
from sosrisk.augment.guards import guard_sequence, guard_violations, is_guarded, segment
from sosrisk.augment.neardup import best_matches, distinct
from sosrisk.augment.plan import BalanceSize, PlanError
from sosrisk.augment.synonyms import SynonymReplacer, SynonymTable
from sosrisk.data import read_posts

# ---------------------------------------------------------------------------------------------- fixtures

GROUPS = {
    0: [("朋友", "n"), ("伙伴", "n"), ("友人", "n")],
    1: [("学校", "n"), ("校园", "n")],
    2: [("工作", "vn"), ("上班", "v")],
    3: [("喜欢", "v"), ("喜爱", "v")],
    4: [("房间", "n"), ("屋子", "n")],
}
# guarded words planted with the same vectors as replaceable ones: they must never be used
TRAPS = [("明天", "t", 0), ("去年", "t", 0), ("想死", "v", 3), ("不想", "v", 3)]


def tiny_table() -> SynonymTable:
    rng = np.random.default_rng(0)
    words, tags, vectors = [], [], []
    for group, members in GROUPS.items():
        for word, tag in members:
            vector = np.zeros(8)
            vector[group] = 1.0
            vectors.append(vector + rng.normal(0, 0.02, 8))
            words.append(word)
            tags.append(tag)
    for word, tag, group in TRAPS:
        vector = np.zeros(8)
        vector[group] = 1.0
        vectors.append(vector)
        words.append(word)
        tags.append(tag)
    matrix = np.array(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return SynonymTable(words=words, tags=tags, static=matrix, context=matrix.copy(), meta={"test": True})


POSTS = {
    0: ["今天在学校和朋友吵架了，好烦", "工作好累，朋友也不理我", "房间乱七八糟，不喜欢现在的工作"],
    4: ["我不想死，可是朋友都不喜欢我", "真的想死，学校里没有朋友", "在房间里哭，想死"],
    9: ["明天就去学校楼顶跳下去，朋友们再见", "明天晚上在房间里吃药，工作交接好了"],
}


@pytest.fixture
def train_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.tsv"
    lines = ["text\trisk_level\thigh_risk"]
    for level, texts in POSTS.items():
        lines += [f"{t}\t{level}\t{int(level >= 6)}" for t in texts]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------- plans


def test_sizes_parse_and_reject_clearly() -> None:
    assert BalanceSize.parse("116") == BalanceSize("count", 116.0)
    assert BalanceSize.parse("largest") == BalanceSize("largest", 1.0)
    assert BalanceSize.parse("2xlargest") == BalanceSize("largest", 2.0)
    assert BalanceSize.parse("x1.5") == BalanceSize("factor", 1.5)
    assert str(BalanceSize.parse("2xlargest")) == "2xlargest"
    with pytest.raises(PlanError) as caught:
        BalanceSize.parse("lots")
    assert str(caught.value) == (
        "size: expected N (raise smaller classes to N posts), largest, KxLargest (e.g. 2xlargest) or xF "
        "(multiply each class); got 'lots'"
    )
    with pytest.raises(PlanError, match="size: expected a factor of at least 1"):
        BalanceSize.parse("x0.5")


def test_plan_raises_only_smaller_classes_and_skips_empty_ones() -> None:
    labels = [0] * 3 + [4] * 10 + [9] * 5
    plan = plan_balance("level", labels, "largest")
    assert plan.additions() == {0: 7, 9: 5}
    assert plan_balance("level", labels, "8").additions() == {0: 5, 9: 3}
    assert plan_balance("level", labels, "2xlargest").additions() == {0: 17, 4: 10, 9: 15}
    assert plan_balance("level", labels, "x2").additions() == {0: 3, 4: 10, 9: 5}
    rendered = plan.render().splitlines()
    assert rendered[0] == "balancing plan (level task, size largest): 12 posts to add"
    assert rendered[2] == "    0  everyday negative emotion        3      7     10"
    with pytest.raises(PlanError, match=r"labels: expected values in \[0, 1\] for the binary task, got \[4, 9\]"):
        plan_balance("binary", labels, "largest")


# ---------------------------------------------------------------------------------------------- guards


def test_guards_protect_negation_risk_method_time_and_person() -> None:
    guarded = ("不想", "想死", "割腕", "明天", "去年", "三天", "我们", "自己", "准备", "非常", "好友", "阳台", "地狱")
    for word in guarded:
        assert is_guarded(word), word
    for word in ("朋友", "学校", "房间", "工作", "喜欢", "家人", "友人"):
        assert not is_guarded(word), word
    assert guard_violations("我不想死，明天再说", "我想死，去年再说") == [
        "negations 1 -> 0",
        "time terms ['明天'] -> ['去年']",
    ]
    assert guard_violations("准备割腕", "准备吃药") == ["method/risk terms ['割腕'] -> ['药']"]
    assert guard_violations("还有3天", "还有5天") == ["numbers ['3'] -> ['5']"]
    assert guard_violations("我不想死，朋友们", "我不想死，友人们") == []


def test_segmentation_keeps_every_character() -> None:
    text = "我不想死了， 明天就去学校\n朋友们再见"
    assert "".join(word for word, _ in segment(text)) == text


# ---------------------------------------------------------------------------------------------- synonyms


def test_neighbours_respect_part_of_speech_and_never_offer_guarded_words() -> None:
    table = tiny_table()
    assert {w for w, _ in table.neighbours("朋友")} == {"伙伴", "友人"}
    assert [w for w, _ in table.neighbours("喜欢")] == ["喜爱"]  # 想死 and 不想 share its vector: never offered
    assert table.neighbours("明天") == []  # its only same-tag neighbour, 去年, is guarded
    assert table.neighbours("不在表里") == []


def test_synonym_variants_never_change_guard_characters() -> None:
    replacer = SynonymReplacer(tiny_table(), rate=1.0)
    rng = random.Random(7)
    for text in [t for texts in POSTS.values() for t in texts]:
        for _ in range(5):
            made = replacer.variant(text, rng)
            if made is None:
                continue
            variant, swaps = made
            assert guard_sequence(variant) == guard_sequence(text)
            assert "去年" not in variant
            if "不想死" in text:
                assert "不想死" in variant
            if "明天" in text:
                assert "明天" in variant
            assert swaps and all(s.before != s.after for s in swaps)


def test_synonym_variant_is_reproducible_with_a_seed() -> None:
    replacer = SynonymReplacer(tiny_table(), rate=1.0)
    text = "我不想死，可是朋友都不喜欢我，学校也不想去"
    first = replacer.variant(text, random.Random(3))
    again = replacer.variant(text, random.Random(3))
    assert first == again
    assert first is not None
    assert first[0] != text and "不想死" in first[0]


def test_table_round_trip_without_pickle(tmp_path: Path) -> None:
    table = tiny_table()
    path = table.save(tmp_path / "table.npz")
    loaded = SynonymTable.load(path)
    assert loaded.words == table.words and loaded.tags == table.tags
    assert loaded.neighbours("学校") == [("校园", pytest.approx(table.neighbours("学校")[0][1], abs=1e-2))]
    with np.load(path, allow_pickle=False) as data:
        assert json.loads(str(data["meta"])) == {"test": True, "format_version": 1}


def test_synonym_augmentation_follows_the_plan_and_is_deterministic(train_file: Path, tmp_path: Path) -> None:
    train = read_posts(train_file, task="level")
    resources = AugmentResources(synonym_table=tiny_table())
    result = augment_posts(train, "level", "synonym:6", resources=resources, seed=1, show_progress=False)
    again = augment_posts(train, "level", "synonym:6", resources=resources, seed=1, show_progress=False)
    assert [p.text for p in result.added] == [p.text for p in again.added]
    assert result.plan.additions() == {0: 3, 4: 3, 9: 4}
    made = result.made()
    assert sum(made.values()) + sum(result.shortfall.values()) == 10
    sources = {t for texts in POSTS.values() for t in texts}
    for post in result.added:
        assert post.origin == "synonym" and post.text not in sources
        assert post.high_risk == int(post.risk_level >= 6)  # carried from the source post, not derived
    # the augmented file is read back by read_posts for both tasks
    out = write_augmented(tmp_path / "augmented.tsv", result.rows(train))
    back = read_posts(out, task="level")
    assert len(back) == len(train) + len(result.added)
    assert read_posts(out, task="binary").labels("binary").sum() >= 2


def test_evaluation_lookalikes_are_left_out(train_file: Path, tmp_path: Path) -> None:
    train = read_posts(train_file, task="level")
    evaluation_file = tmp_path / "eval.tsv"
    # an evaluation post that is a near-copy of a training post: its variants look like it
    evaluation_file.write_text("text\trisk_level\n今天在校园和朋友吵架了，好烦啊\t0\n", encoding="utf-8")
    evaluation = read_posts(evaluation_file, task="level")
    resources = AugmentResources(synonym_table=tiny_table())
    result = augment_posts(
        train, "level", "synonym:6", evaluation=evaluation, resources=resources, seed=4, show_progress=False
    )
    # with seed 4 and no evaluation data this variant is made (see the next assertion's counterpart)
    assert "今天在校园和朋友吵架了，好烦" in [
        p.text
        for p in augment_posts(train, "level", "synonym:6", resources=resources, seed=4, show_progress=False).added
    ]
    assert "今天在校园和朋友吵架了，好烦" not in [p.text for p in result.added]
    assert result.rejected["closest to an evaluation post"] >= 1
    assert result.made() == {0: 3, 4: 3, 9: 4}


# ---------------------------------------------------------------------------------------------- near duplicates


def test_near_duplicates() -> None:
    matches = best_matches(["我在学校和朋友吵架了", "完全不同的一句话"], ["今天在学校和朋友吵架了，好烦", "明天见"])
    assert matches.best[0] == 0 and matches.similarity[0] > 0.5
    assert matches.similarity[1] < 0.3
    assert distinct(
        ["一模一样的话", "一模一样的话", "一模一样的话。", "别的内容完全不一样"], against=["已有的帖子"]
    ) == [0, 3]


# ---------------------------------------------------------------------------------------------- LLM methods


def _client(server: Any) -> Any:
    from sosrisk.llm import ChatClient, LLMOptions

    options = LLMOptions.build(
        {"base_url": server.base_url, "model": "m", "api_key": "sk-aug-SECRET", "backoff_initial_s": 0.0},
        environ={},
    )
    return ChatClient(options, sleep=lambda s: None)


def translation_responder(body: dict[str, Any]) -> Any:
    from llm_server import reply

    user = body["messages"][-1]["content"]
    texts = json.loads(user[user.index("\n\n[") + 2 :])
    if "Simplified Chinese texts into" in user:  # forward
        target = re.search(r"texts into (\w+)", user)
        assert target is not None
        return reply("```json\n" + json.dumps([f"<{target.group(1)}>{t}" for t in texts], ensure_ascii=False) + "\n```")
    back = []
    for text in texts:
        plain = re.sub(r"^<\w+>", "", text)
        language = re.match(r"^<(\w+)>", text)
        assert language is not None
        changed = plain.replace("朋友", "友人").replace("房间", "屋子") + f"（{language.group(1)[:2]}）"
        if "不想死" in changed and language.group(1) == "English":
            changed = changed.replace("不想死", "想死")  # a translation that lost the negation
        back.append(changed)
    return reply(json.dumps(back, ensure_ascii=False))


def test_back_translation_through_a_chat_model_rejects_guard_violations(
    train_file: Path, tmp_path: Path, llm_server: Any
) -> None:
    from sosrisk.augment.translate import ChatTranslator
    from sosrisk.llm import Ledger

    llm_server.responder = translation_responder
    train = read_posts(train_file, task="level")
    with _client(llm_server) as client:
        ledger = Ledger(tmp_path / "ledger.jsonl")
        resources = AugmentResources(
            translator=ChatTranslator(client, ledger=ledger, batch_size=4), pivots=("en", "fr"), ledger=ledger
        )
        result = augment_posts(train, "level", "back-translation:5", resources=resources, seed=0, show_progress=False)
    assert result.plan.additions() == {0: 2, 4: 2, 9: 3}
    assert result.made() == {0: 2, 4: 2, 9: 3}
    assert all(p.origin in {"back-translation:en", "back-translation:fr"} for p in result.added)
    source_text = {
        f"{s}:{n}": t for t, s, n in zip(train.texts, train.frame["source"], train.frame["line"], strict=True)
    }
    for post in result.added:
        assert guard_violations(source_text[post.derived_from or ""], post.text) == []
    assert result.rejected.get("back-translation guard: negations changed", 0) >= 1
    assert "sk-aug-SECRET" not in (tmp_path / "ledger.jsonl").read_text(encoding="utf-8")


HAN = "天地人山水风云雨雪花草树木日月星光影声色香味心情梦想希望孤独寂寞温暖寒冷黑夜白昼街道城市乡村"


class GenerationResponder:
    """Answers generation requests: a preamble, a copy of an example, English, a too-short line, a repeat,
    then 25 distinct posts (random characters, different on every call)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, body: dict[str, Any]) -> Any:
        from llm_server import reply

        self.calls += 1
        user = body["messages"][-1]["content"]
        example = re.search(r"\n1\. (.+)\n", user)
        assert example is not None and "风险等级" in user and "树洞" in user
        rng = random.Random(self.calls)
        lines = ["好的，以下是30条评论：", "1. 我真的好想死，可是我又不敢", f"2. {example.group(1)}"]
        lines += ["3. I just want to disappear forever and ever", "4. 嗯", "5. 我真的好想死，可是我又不敢"]
        lines += [f"{i}. " + "".join(rng.choice(HAN) for _ in range(18)) for i in range(6, 31)]
        return reply("\n".join(lines))


def test_generation_dedupes_checks_format_and_resumes_from_the_ledger(
    train_file: Path, tmp_path: Path, llm_server: Any
) -> None:
    from sosrisk.llm import Ledger

    llm_server.responder = GenerationResponder()
    train = read_posts(train_file, task="level")
    ledger_path = tmp_path / "ledger.jsonl"
    with _client(llm_server) as client:
        resources = AugmentResources(client=client, ledger=Ledger(ledger_path))
        result = augment_posts(train, "level", "llm:20", resources=resources, seed=0, show_progress=False)
    assert result.made() == {0: 17, 4: 17, 9: 18}
    texts = [p.text for p in result.added]
    assert len(set(texts)) == len(texts)
    assert not any(t.startswith(("好的", "I just")) for t in texts)
    assert result.rejected["llm: not mostly Chinese"] == 3
    assert result.rejected["llm: length outside bounds"] == 3
    assert all(p.origin == "llm" and p.high_risk is None for p in result.added)
    requests = len(llm_server.requests)
    assert requests == 3
    # the same run again is answered from the ledger: nothing is paid twice
    with _client(llm_server) as client:
        resources = AugmentResources(client=client, ledger=Ledger(ledger_path))
        again = augment_posts(train, "level", "llm:20", resources=resources, seed=0, show_progress=False)
    assert [p.text for p in again.added] == texts
    assert len(llm_server.requests) == requests
    # a file with generated posts has no high_risk column (they carry only the level asked for)
    out = write_augmented(tmp_path / "aug.tsv", result.rows(train))
    assert out.read_text(encoding="utf-8").splitlines()[0] == "text\trisk_level\torigin\tderived_from"
    assert len(read_posts(out, task="level")) == len(train) + 52


def test_spec_errors_are_clear() -> None:
    with pytest.raises(ValueError) as caught:
        AugmentSpec.parse("wordnet:116")
    assert str(caught.value) == (
        "augmentation: expected METHOD[:SIZE] with METHOD one of back-translation, llm, pool-back-translation, "
        "pool-llm, pool-synonym, synonym, got 'wordnet:116'"
    )


# ---------------------------------------------------------------------------------------------- pools


@pytest.mark.slow
def test_pool_rounds_are_traced_to_the_folds_they_were_made_from(sos1k_root: Path) -> None:
    from sosrisk.augment.pools import PoolError, pool_candidates, trace_pools

    trace = trace_pools(sos1k_root, methods=("synonym",))
    assert [(r.round, r.sources, r.basis) for r in trace.rounds] == [
        (k, tuple(j for j in range(1, 6) if j != k), "matching") for k in range(1, 6)
    ]
    assert trace.safe_rounds("synonym", 3) == [3]
    candidates = pool_candidates("synonym", "binary", root=sos1k_root, holdout_fold=3)
    assert candidates.rounds == [3]
    assert all(
        p.derived_from and "fold3" not in p.derived_from for label in candidates.by_label.values() for p in label
    )
    with pytest.raises(PoolError, match="the LLM pool cannot augment the binary task"):
        pool_candidates("llm", "binary", root=sos1k_root, holdout_fold=3)


# ---------------------------------------------------------------------------------------- cross-validation


def five_folds(tmp_path: Path) -> list[Any]:
    """Five folds of the posts above with punctuation variants, every level in each, read like official files."""
    folds: list[list[str]] = [[] for _ in range(5)]
    for copy in range(10):
        for level, texts in POSTS.items():
            for number, text in enumerate(texts):
                folds[(copy + number) % 5].append(f"{text}{'！' * (copy % 4)}{'。' * (copy // 4)}\t{level}")
    paths = []
    for k, rows in enumerate(folds, start=1):
        path = tmp_path / f"fold{k}.tsv"
        path.write_text("text\trisk_level\n" + "\n".join(rows) + "\n", encoding="utf-8")
        paths.append(path)
    return [read_posts(path, task="level") for path in paths]


def test_augmented_cross_validation_is_cross_validate_on_augmented_training_parts(tmp_path: Path) -> None:
    from sosrisk.augment import cross_validate_augmented
    from sosrisk.training import cross_validate

    folds = five_folds(tmp_path)
    total = sum(len(fold) for fold in folds)
    params = {"cv_folds": 2}
    plain = cross_validate("level", folds=folds, params=params, scope=False, show_progress=False)
    baseline = cross_validate_augmented("level", None, folds=folds, params=params)
    assert baseline.augment == "none" and baseline.added == [{}] * 5 and baseline.rejected == [{}] * 5
    for without, metrics, fold in zip(plain.per_fold, baseline.per_fold, folds, strict=True):
        assert metrics["train_posts"] == total - len(fold)
        assert "inner_oof_weighted_f1" in metrics
        assert {k: v for k, v in metrics.items() if k not in ("train_posts", "inner_oof_weighted_f1")} == without
    resources = AugmentResources(synonym_table=tiny_table())
    augmented = cross_validate_augmented("level", "synonym:40", folds=folds, params=params, resources=resources, seed=3)
    assert augmented.augment == "synonym:40" and any(augmented.added)
    for metrics, fold, added in zip(augmented.per_fold, folds, augmented.added, strict=True):
        assert metrics["train_posts"] == total - len(fold) + sum(added.values())
    assert augmented.per_fold != baseline.per_fold
    assert augmented.to_dict()["mean"]["weighted_f1"] == pytest.approx(
        np.mean([m["weighted_f1"] for m in augmented.per_fold])
    )
