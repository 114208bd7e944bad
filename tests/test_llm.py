"""The OpenAI-compatible client and the ledger, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("httpx")
pytest.importorskip("pydantic")

from llm_server import ScriptedServer, drop, raw, reply, stall, status
from sosrisk.llm import ChatClient, Ledger, LLMError, LLMOptions, cached_chat
from sosrisk.llm.ledger import request_key

SECRET = "sk-test-SECRET-0123456789abcdef"
MESSAGES = [{"role": "user", "content": "你好"}]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    running = ScriptedServer().start()
    yield running
    running.stop()


def options(server: ScriptedServer, **overrides: object) -> LLMOptions:
    values: dict[str, object] = {
        "base_url": server.base_url,
        "model": "test-model",
        "api_key": SECRET,
        "timeout_s": 0.5,
        "max_retries": 3,
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
    }
    values.update(overrides)
    return LLMOptions.build(values, environ={})


def test_good_answer_sends_key_only_in_header(server: ScriptedServer) -> None:
    server.script = [reply("好的")]
    with ChatClient(options(server)) as client:
        answer = client.chat(MESSAGES, temperature=0.0)
    assert answer.content == "好的"
    assert answer.usage == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert request["body"] == {"model": "test-model", "messages": MESSAGES, "temperature": 0.0}


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(lambda: status(429, retry_after="0"), id="429"),
        pytest.param(lambda: status(503), id="503"),
        pytest.param(lambda: stall(1.5), id="timeout"),
        pytest.param(drop, id="dropped-connection"),
        pytest.param(lambda: raw("<html>gateway</html>"), id="not-json"),
    ],
)
def test_transient_failures_are_retried(server: ScriptedServer, failure: object) -> None:
    server.script = [failure(), reply("成功")]  # type: ignore[operator]
    waits: list[float] = []
    with ChatClient(options(server), sleep=waits.append) as client:
        answer = client.chat(MESSAGES)
    assert answer.content == "成功"
    assert answer.attempts == 2
    assert len(waits) == 1 and 0.01 <= waits[0] <= 0.011


def test_backoff_doubles_and_honours_retry_after_up_to_the_cap(server: ScriptedServer) -> None:
    server.script = [
        status(500),
        status(502),
        status(429, retry_after="0.04"),
        status(429, retry_after="30"),
        reply("ok"),
    ]
    waits: list[float] = []
    with ChatClient(options(server, max_retries=4), sleep=waits.append) as client:
        assert client.chat(MESSAGES).content == "ok"
    rounded = [round(w, 2) for w in waits]
    # 0.01, 0.02, then Retry-After 0.04 (above the 0.04 back-off), then 30 s capped at backoff_max_s
    assert rounded[:2] == [0.01, 0.02]
    assert 0.04 <= waits[2] <= 0.045
    assert 0.05 <= waits[3] <= 0.056


def test_gives_up_after_max_retries_with_a_clear_message(server: ScriptedServer) -> None:
    server.script = [status(503)] * 3
    with ChatClient(options(server, max_retries=2), sleep=lambda s: None) as client, pytest.raises(LLMError) as caught:
        client.chat(MESSAGES)
    assert str(caught.value) == (
        f"{server.base_url}/chat/completions: no usable answer after 3 attempt(s); last problem: "
        "HTTP 503 (error). Check that the endpoint is up, or raise max_retries / timeout_s."
    )


def test_refused_key_is_not_retried_and_not_echoed(server: ScriptedServer) -> None:
    server.script = [status(401, message=f"Incorrect API key provided: {SECRET[:8]}...{SECRET[-4:]}")]
    with ChatClient(options(server), sleep=lambda s: None) as client, pytest.raises(LLMError) as caught:
        client.chat(MESSAGES)
    message = str(caught.value)
    assert len(server.requests) == 1
    assert SECRET[:8] not in message and SECRET[-4:] not in message
    assert message == (
        f"{server.base_url}/chat/completions: HTTP 401 (Incorrect API key provided: ***...***): the API key "
        "was refused; set SOSRISK_LLM_API_KEY (or --api-key) to a valid key"
    )


def test_options_come_from_the_environment_and_reject_unknown_fields() -> None:
    environ = {
        "SOSRISK_LLM_BASE_URL": "https://llm.example.org/v1/",
        "SOSRISK_LLM_MODEL": "qwen",
        "SOSRISK_LLM_API_KEY": SECRET,
    }
    built = LLMOptions.build({}, environ=environ)
    assert built.endpoint == "https://llm.example.org/v1/chat/completions"
    assert built.model == "qwen"
    assert SECRET not in repr(built) and SECRET not in str(built.model_dump())
    assert LLMOptions.build({"model": "other"}, environ=environ).model == "other"
    with pytest.raises(LLMError) as caught:
        LLMOptions.build({"temperature": 1.0}, environ=environ)
    assert str(caught.value).startswith("LLM option 'temperature': unknown option; expected one of base_url, model")
    with pytest.raises(LLMError) as caught:
        LLMOptions.build({"model": "m"}, environ={})
    assert str(caught.value) == (
        "LLM option 'base_url': expected a value, got none; pass --base-url or set SOSRISK_LLM_BASE_URL"
    )
    with pytest.raises(LLMError) as caught:
        LLMOptions.build({"base_url": "ftp://x", "model": "m"}, environ={})
    assert str(caught.value) == (
        "LLM option 'base_url': expected an http(s) URL such as https://api.openai.com/v1; got 'ftp://x'"
    )
    with pytest.raises(LLMError, match="LLM option 'timeout_s'"):
        LLMOptions.build({"base_url": "http://x", "model": "m", "timeout_s": -1}, environ={})


def test_ledger_answers_paid_requests_and_never_holds_the_key(
    server: ScriptedServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sosrisk")
    server.script = [status(429, retry_after="0"), reply("第一次")]
    ledger_path = tmp_path / "calls.jsonl"
    with ChatClient(options(server), sleep=lambda s: None) as client:
        first = cached_chat(client, Ledger(ledger_path), MESSAGES, temperature=0.0, purpose="test")
        # a new ledger object reads the file: a resumed run pays nothing
        resumed = Ledger(ledger_path)
        again = cached_chat(client, resumed, MESSAGES, temperature=0.0, purpose="test")
    assert first.content == again.content == "第一次"
    assert again.cached and resumed.hits == 1
    assert len(server.requests) == 2  # the 429 and the answer, nothing for the resumed call
    text = ledger_path.read_text(encoding="utf-8")
    assert SECRET not in text and SECRET not in caplog.text
    record = json.loads(text.splitlines()[0])
    assert record["key"] == request_key(record["request"])
    assert record["request"]["messages"] == MESSAGES
    # offline replay without a client, and a clear error when the answer is not there
    assert cached_chat(None, resumed, MESSAGES, temperature=0.0, purpose="test", model="test-model").content == "第一次"
    with pytest.raises(LLMError, match="the ledger has no answer for this test request"):
        cached_chat(
            None, resumed, [{"role": "user", "content": "新"}], temperature=0.0, purpose="test", model="test-model"
        )


def test_ledger_skips_a_line_cut_short_by_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    good = {"key": "sha256:a", "request": {}, "reply": {"content": "x"}}
    path.write_text(json.dumps(good) + "\n" + '{"key": "sha256:b", "requ', encoding="utf-8")
    ledger = Ledger(path)
    assert "sha256:a" in ledger and "sha256:b" not in ledger
    assert ledger.skipped_lines == 1
