"""The real SDK adapters against the local fake APIs, the offline writer, the post envelope and the pool."""

from __future__ import annotations

import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import msgspec
import openai
import pytest
from google import genai
from google.genai import types

from blogfakes.ai_server import FakeAI, start_fake_ai
from blogfakes.ai_wire import INPUT_TOKENS, OUTPUT_TOKENS
from blogqueue.errors import InvalidInput
from blogqueue.providers import Provider, keyed
from blogqueue.registry import AiModel, load_registry
from blogqueue.titles import CastMember, MediaType, TitleDetails
from blogqueue.tls import shared_ssl_context
from blogqueue.tmdb import http_client as tmdb_http_client
from blogworker.envelope import ENVELOPE_SEPARATOR, Envelope, format_post, parse_post
from blogworker.providers.anthropic_gen import AnthropicGenerator
from blogworker.providers.base import (
    FailureKind,
    FinishReason,
    GenerationRequest,
    ProviderError,
    TextGenerator,
    Usage,
)
from blogworker.providers.factory import ADAPTERS, GeneratorPool, adapter
from blogworker.providers.gemini_gen import GeminiGenerator
from blogworker.providers.offline import OFFLINE_NOTE, OfflineGenerator
from blogworker.providers.openai_gen import OpenAIGenerator
from blogworker.quality import check_post

PROVIDERS = ["openai", "anthropic", "gemini"]
MODELS = {"openai": "gpt-6.2-sol", "anthropic": "claude-sonnet-5-5", "gemini": "gemini-3.8-flash"}
GENERATORS = {"openai": OpenAIGenerator, "anthropic": AnthropicGenerator, "gemini": GeminiGenerator}
INCEPTION = TitleDetails(
    tmdb_id=27205, media_type=MediaType.MOVIE, title="Inception", year=2010, release_date="2010-07-15",
    genres=["Action", "Science Fiction"], overview="Cobb steals secrets from dreams. One last job could set him free.",
    tagline="Your mind is the scene of the crime.", rating=8.4, vote_count=36000, runtime_minutes=148,
    cast=[CastMember("Leonardo DiCaprio", "Cobb"), CastMember("Elliot Page", "Ariadne")],
    directors=["Christopher Nolan"], keywords=["dream", "heist"],
)  # fmt: skip
BARE_SERIES = TitleDetails(tmdb_id=1, media_type=MediaType.TV, title="Quiet Hours")
PROMPT = "Write a post about this title.\nTitle: Inception (2010)\nGenres: Action, Science Fiction\n"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAI]:
    with start_fake_ai() as server:
        yield server


def base_urls(url: str) -> dict[str, str | None]:
    return {"openai": f"{url}/v1", "anthropic": url, "gemini": url}


def make(provider: str, fake: FakeAI, magic: str = "", timeout_s: float = 10.0) -> tuple[TextGenerator, str]:
    """A generator with a key of its own, so the fake's per-key log and first-call state are this test's."""
    key = f"sk-test-{uuid.uuid4().hex}{magic}"
    generator = GENERATORS[provider](key, base_url=base_urls(fake.url)[provider], timeout_s=timeout_s)
    return generator, key


def request(
    model: AiModel | str, *, temperature: float | None = 0.7, facts: TitleDetails | None = None
) -> GenerationRequest:
    model = load_registry().get(model) if isinstance(model, str) else model
    return GenerationRequest(model=model, system="You write film blogs.", prompt=PROMPT, max_output_tokens=2000,
                             temperature=temperature, facts=facts)  # fmt: skip


class Deltas(list[str]):
    def __call__(self, text: str) -> None:
        self.append(text)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_success_streams_a_post_with_usage(provider: str, fake: FakeAI) -> None:
    generator, key = make(provider, fake)
    deltas = Deltas()
    result = await generator.generate(request(MODELS[provider]), deltas)
    await generator.aclose()

    envelope, body = parse_post(result.text)
    assert envelope.title.startswith("Inception (2010)") and body.startswith("# Inception (2010)\n")
    check_post(envelope, body, INCEPTION)  # what the pipeline will ask of it
    assert result.usage == Usage(INPUT_TOKENS, OUTPUT_TOKENS)  # Gemini: candidates + thoughts
    assert (result.finish, result.model) == (FinishReason.STOP, MODELS[provider])
    assert len(deltas) >= 3 and "".join(deltas) == result.text
    assert [call.stream for call in fake.calls_for(key)] == [True]


FAILURES = [
    ("-badkey", FailureKind.AUTH, None),
    ("-quota", FailureKind.QUOTA, None),
    ("-ratelimit", FailureKind.RATE_LIMIT, 2.0),
    ("-flaky", FailureKind.TRANSIENT, None),
]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("magic", "kind", "retry_after_s"), FAILURES)
async def test_failures_are_classified_once_without_sdk_retries(
    provider: str, magic: str, kind: FailureKind, retry_after_s: float | None, fake: FakeAI
) -> None:
    generator, key = make(provider, fake, magic)
    with pytest.raises(ProviderError) as caught:
        await generator.generate(request(MODELS[provider]), Deltas())
    error = caught.value
    assert (error.kind, error.retry_after_s, error.provider) == (kind, retry_after_s, provider)
    # Not chained to the SDK error either: its text may carry the key into a logged traceback.
    assert key not in error.message and key not in str(error) and error.__suppress_context__
    assert len(fake.calls_for(key)) == 1  # the SDK's own retries are off: the queue owns them
    if kind in (FailureKind.RATE_LIMIT, FailureKind.TRANSIENT):  # the fake fails only the first call
        result = await generator.generate(request(MODELS[provider]), Deltas())
        assert result.finish is FinishReason.STOP and len(fake.calls_for(key)) == 2
    await generator.aclose()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_unknown_model(provider: str, fake: FakeAI) -> None:
    generator, _ = make(provider, fake)
    model = msgspec.structs.replace(load_registry().get(MODELS[provider]), id=f"{provider}-missing-1")
    with pytest.raises(ProviderError) as caught:
        await generator.generate(request(model), Deltas())
    await generator.aclose()
    assert caught.value.kind is FailureKind.MODEL and f"{provider}-missing-1" in caught.value.message


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_timeout_is_transient(provider: str, fake: FakeAI) -> None:
    generator, key = make(provider, fake, "-slow", timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        await generator.generate(request(MODELS[provider]), Deltas())
    await generator.aclose()
    assert caught.value.kind is FailureKind.TRANSIENT and "in time" in caught.value.message
    assert time.monotonic() - started < 3 and len(fake.calls_for(key)) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_unreachable_server_is_transient(provider: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, never listening: connection refused
        generator = GENERATORS[provider]("sk-unused", base_url=base_urls(url)[provider], timeout_s=2)
        with pytest.raises(ProviderError) as caught:
            await generator.generate(request(MODELS[provider]), Deltas())
        await generator.aclose()
    assert caught.value.kind is FailureKind.TRANSIENT


@pytest.mark.parametrize(
    ("provider", "finish"),
    [("openai", FinishReason.REFUSAL), ("anthropic", FinishReason.REFUSAL), ("gemini", FinishReason.SAFETY)],
)
async def test_refusal(provider: str, finish: FinishReason, fake: FakeAI) -> None:
    generator, _ = make(provider, fake, "-refuse")
    result = await generator.generate(request(MODELS[provider]), Deltas())
    await generator.aclose()
    assert result.finish is finish
    with pytest.raises(InvalidInput):
        parse_post(result.text)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_truncated_answer_reports_length(provider: str, fake: FakeAI) -> None:
    generator, _ = make(provider, fake, "-truncate")
    result = await generator.generate(request(MODELS[provider]), Deltas())
    await generator.aclose()
    assert result.finish is FinishReason.LENGTH and result.text.startswith('{"title"')


def rules(base: str, **changes: object) -> AiModel:
    return msgspec.structs.replace(load_registry().get(base), id=f"{base}-rules", **changes)


# (provider, model, temperature asked for, fields the request must carry, fields it must not)
RULES = [
    ("openai", "gpt-6.2-sol", 0.7, {"max_completion_tokens": 2000}, {"max_tokens", "temperature"}),
    ("openai", "gpt-4o", 0.7, {"max_completion_tokens": 2000, "temperature": 0.7}, {"max_tokens"}),
    ("openai", rules("gpt-4o", max_tokens_param="max_tokens"), 0.3, {"max_tokens": 2000, "temperature": 0.3},
     {"max_completion_tokens"}),
    ("openai", "gpt-4o", None, {"max_completion_tokens": 2000}, {"temperature"}),
    ("anthropic", "claude-sonnet-5-5", 0.7, {"max_tokens": 2000}, {"temperature"}),
    ("anthropic", rules("claude-sonnet-5-5", accepts_temperature=True), 0.7, {"max_tokens": 2000, "temperature": 0.7},
     set()),
    ("gemini", "gemini-3.8-flash", 0.7, {"maxOutputTokens": 2000, "temperature": 0.7}, set()),
    ("gemini", rules("gemini-3.8-flash", accepts_temperature=False), 0.7, {"maxOutputTokens": 2000}, {"temperature"}),
]  # fmt: skip


@pytest.mark.parametrize(("provider", "model", "temperature", "sent", "not_sent"), RULES)
async def test_registry_request_rules(
    provider: str, model: AiModel | str, temperature: float | None, sent: dict[str, object], not_sent: set[str],
    fake: FakeAI,
) -> None:  # fmt: skip
    generator, key = make(provider, fake)
    await generator.generate(request(model, temperature=temperature), Deltas())
    await generator.aclose()
    [call] = fake.calls_for(key)
    fields = call.body.get("generationConfig", {}) if provider == "gemini" else call.body
    assert {name: fields.get(name) for name in sent} == sent
    assert not_sent.isdisjoint(fields)


# --- offline writer ------------------------------------------------------------------------------


@pytest.mark.parametrize("facts", [INCEPTION, BARE_SERIES], ids=["full", "bare"])
async def test_offline_post_follows_the_contract(facts: TitleDetails) -> None:
    deltas = Deltas()
    result = await OfflineGenerator().generate(request("offline", facts=facts), deltas)
    envelope, body = parse_post(result.text)
    check_post(envelope, body, facts)  # the same gate model answers pass
    assert body.startswith(f"# {facts.title}{' (2010)' if facts.year else ''}\n\n{OFFLINE_NOTE}\n")
    headings = [line for line in body.splitlines() if line.startswith("## ")]
    assert headings == ["## Introduction", "## Why watch", "## Cast and crew", "## Verdict"]
    assert envelope.title.startswith(f"{facts.title} (2010)" if facts.year else facts.title)
    assert envelope.excerpt and envelope.tags
    assert (result.usage, result.finish, result.model) == (Usage(0, 0), FinishReason.STOP, "offline")
    assert len(deltas) >= 4 and "".join(deltas) == result.text


async def test_offline_post_is_deterministic_and_uses_the_facts() -> None:
    first = await OfflineGenerator().generate(request("offline", facts=INCEPTION), Deltas())
    second = await OfflineGenerator().generate(request("offline", facts=INCEPTION), Deltas())
    assert first.text == second.text
    facts = ("Christopher Nolan", "Leonardo DiCaprio", "Cobb", "8.4/10", "148 minutes", "science fiction")
    assert [fact for fact in facts if fact not in first.text] == []


async def test_offline_without_facts_is_a_bad_request() -> None:
    with pytest.raises(ProviderError) as caught:
        await OfflineGenerator().generate(request("offline"), Deltas())
    assert caught.value.kind is FailureKind.BAD_REQUEST


# --- envelope ------------------------------------------------------------------------------------

ENVELOPE = Envelope(title="Inception (2010)", excerpt="Dreams.", tags=["film"])


@pytest.mark.parametrize(
    "text",
    [
        format_post(ENVELOPE, "# Inception (2010)\n\nBody.\n"),
        "\n  " + format_post(ENVELOPE, "# Inception (2010)\n\nBody.").replace("\n", "\r\n"),
        '```json\n{"title": "Inception (2010)", "excerpt": "Dreams.", "tags": ["film"]}\n```'
        + ENVELOPE_SEPARATOR + "# Inception (2010)\n\nBody.",
    ],
    ids=["plain", "whitespace-crlf", "fenced"],
)  # fmt: skip
def test_parse_post_round_trips(text: str) -> None:
    assert parse_post(text) == (ENVELOPE, "# Inception (2010)\n\nBody.")


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("# Inception\n\nNo envelope at all.", "JSON envelope line"),
        ('{"title": "X", "excerpt": "Y"}\n---\n# X', "invalid"),
        ('{"title": "", "excerpt": "Y", "tags": []}\n---\n# X', "invalid"),
        ('```json\n{"title": "X", "excerpt": "Y", "tags": []}\n---\n# X', "fence"),
        ('{"title": "X", "excerpt": "Y", "tags": []}\n---\n  \n', "no post body"),
    ],
)
def test_parse_post_rejects_bad_envelopes(text: str, complaint: str) -> None:
    with pytest.raises(InvalidInput, match=complaint):
        parse_post(text)


# --- pool ----------------------------------------------------------------------------------------


async def test_pool_caches_per_provider_and_key(fake: FakeAI) -> None:
    pool = GeneratorPool(base_urls=base_urls(fake.url), timeout_s=5)
    first = pool.get("openai", "sk-one")
    assert pool.get("openai", "sk-one") is first
    assert pool.get("openai", "sk-two") is not first and pool.get("anthropic", "sk-one") is not first
    assert isinstance(pool.get("offline", None), OfflineGenerator) and len(pool) == 3
    result = await pool.get("gemini", "sk-pool").generate(request(MODELS["gemini"]), Deltas())
    assert result.finish is FinishReason.STOP
    for provider, key in [("openai", None), ("openai", ""), ("mistral", "sk-one")]:
        with pytest.raises(ProviderError) as caught:
            pool.get(provider, key)
        assert caught.value.kind in (FailureKind.AUTH, FailureKind.BAD_REQUEST)
    await pool.aclose()
    assert len(pool) == 0


async def test_pool_evicts_the_least_recently_used_but_lets_its_call_finish(fake: FakeAI) -> None:
    pool = GeneratorPool(base_urls=base_urls(fake.url), timeout_s=5, max_size=1)
    busy = pool.get("openai", "sk-busy")
    evicted: list[TextGenerator] = []

    def evict_mid_stream(text: str) -> None:
        if not evicted:
            evicted.append(pool.get("openai", "sk-other"))  # pushes `busy` out while it streams

    fake.chunk_delay_s = 0.05  # the stream goes on well after the eviction
    try:
        result = await busy.generate(request(MODELS["openai"]), evict_mid_stream)
    finally:
        fake.chunk_delay_s = 0.0
    assert result.finish is FinishReason.STOP  # its client was not closed under it
    assert pool.get("openai", "sk-busy") is not busy and len(pool) == 1
    await pool.aclose()


async def test_every_sdk_client_and_tmdb_share_one_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """Left alone, each client loads the CA bundle into its own context: ~1 MB per key and provider."""
    loads: list[ssl.SSLContext] = []
    load = ssl.SSLContext.load_verify_locations

    def counted(context: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(context)
        load(context, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    shared_ssl_context.cache_clear()
    pool = GeneratorPool(timeout_s=5)  # built, never called: nothing is sent
    for key in ("sk-one", "sk-two"):
        for provider in PROVIDERS:
            pool.get(provider, key)
    tmdb = tmdb_http_client(5.0)
    assert len(pool) == 6 and len(loads) == 1
    await pool.aclose()
    await tmdb.aclose()


def test_every_provider_has_an_adapter_that_says_it_is_that_provider() -> None:
    assert list(ADAPTERS) == list(Provider)
    assert {provider: adapter(provider).provider for provider in Provider} == {p: p for p in Provider}


async def test_keyless_providers_share_one_generator() -> None:
    pool = GeneratorPool()
    for provider in set(Provider) - set(keyed()):
        assert pool.get(provider, None) is pool.get(provider, "ignored")
    assert len(pool) == 0
    await pool.aclose()


# --- the fake itself -----------------------------------------------------------------------------


async def test_fake_answers_plain_sdk_calls_without_streaming(fake: FakeAI) -> None:
    """The fake also serves the non-streaming shapes, which the SDKs parse like the real APIs'."""
    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    async with openai.AsyncOpenAI(api_key="sk-plain", base_url=f"{fake.url}/v1", max_retries=0) as client:
        chat = await client.chat.completions.create(model="gpt-6.2-sol", messages=messages)
    async with anthropic.AsyncAnthropic(api_key="sk-plain", base_url=fake.url, max_retries=0) as client:
        message = await client.messages.create(model="claude-sonnet-5-5", max_tokens=100, messages=messages)
    gemini = genai.Client(api_key="sk-plain", http_options=types.HttpOptions(base_url=fake.url))
    content = await gemini.aio.models.generate_content(model="gemini-3.8-flash", contents=PROMPT)
    await gemini.aio.aclose()
    gemini.close()

    block = message.content[0]
    texts = [chat.choices[0].message.content, block.text if block.type == "text" else "", content.text]
    assert all(parse_post(text or "")[0].title.startswith("Inception (2010)") for text in texts)
    assert (
        chat.usage is not None
        and chat.usage.completion_tokens == message.usage.output_tokens == OUTPUT_TOKENS
    )


async def test_the_fake_streams_the_responses_api_token_by_token() -> None:
    """bench/sdk_floor.py times OpenAI's Responses API stream against the fake, at token-sized deltas."""
    with start_fake_ai(latency_s=0, chunk_chars=4) as small:
        async with openai.AsyncOpenAI(
            api_key="sk-plain", base_url=f"{small.url}/v1", max_retries=0
        ) as client:
            stream = await client.responses.create(model="gpt-6.2-sol", input=PROMPT, stream=True)
            events = [event async for event in stream]
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    last = events[-1]
    assert len(deltas) > 200 and all(1 <= len(delta) <= 4 for delta in deltas)
    assert parse_post("".join(deltas))[0].title.startswith("Inception (2010)")
    assert last.type == "response.completed" and last.response.output_text == "".join(deltas)
    assert last.response.usage is not None and last.response.usage.output_tokens == OUTPUT_TOKENS
    assert [event.sequence_number for event in events] == list(range(len(events)))
