from datetime import date, timedelta

import pytest

from blogqueue.errors import InvalidInput, Misconfigured
from blogqueue.registry import ModelRegistry, load_registry, parse_registry

NOTES_DATE = date(2026, 11, 28)

SEED_STATUS = {
    "gemini-1.5-flash": "retired",
    "gemini-1.5-pro": "retired",
    "gemini-2.0-flash-exp": "retired",
    "gpt-4o": "deprecated",
    "gpt-4-turbo": "retired",
    "gpt-4": "retired",
    "gpt-3.5-turbo": "retired",
    "claude-3-5-sonnet-20241022": "retired",
    "claude-3-opus-20240229": "retired",
    "claude-3-sonnet-20240229": "retired",
}

# (provider, input, output) per 1M tokens, as the notes list the current lineup.
LINEUP = {
    "gpt-6.2-astra": ("openai", 8.0, 40.0),
    "gpt-6.2-sol": ("openai", 2.0, 10.0),
    "gpt-6.1-terra": ("openai", 1.0, 5.0),
    "gpt-6-luna": ("openai", 0.10, 0.50),
    "claude-fable-5-2": ("anthropic", 8.0, 40.0),
    "claude-opus-5-5": ("anthropic", 4.0, 20.0),
    "claude-sonnet-5-5": ("anthropic", 2.0, 10.0),
    "claude-haiku-5-5": ("anthropic", 0.10, 0.50),
    "gemini-3.8-flash": ("gemini", 0.75, 3.75),
    "gemini-3.5-flash": ("gemini", 1.50, 9.00),
    "gemini-3.5-flash-lite": ("gemini", 0.30, 2.50),
    "gemini-3.1-pro-preview": ("gemini", 2.0, 12.0),
}


@pytest.fixture
def registry() -> ModelRegistry:
    return load_registry()


def test_the_shipped_file_loads_once_per_process() -> None:
    assert load_registry() is load_registry()
    assert {m.provider for m in load_registry().all()} == {"gemini", "openai", "anthropic", "offline"}


@pytest.mark.parametrize(("model_id", "status"), SEED_STATUS.items())
def test_seed_models_have_their_status_and_a_live_replacement(
    registry: ModelRegistry, model_id: str, status: str
) -> None:
    model = registry.get(model_id)
    assert model.status == status
    assert model.shutdown_date is not None
    assert (model.shutdown_date <= NOTES_DATE) == (status == "retired")
    assert model.replacement_id is not None
    assert registry.get(model.replacement_id).status == "active"


def test_gpt_4o_is_deprecated_but_still_usable(registry: ModelRegistry) -> None:
    assert registry.require_usable("gpt-4o").shutdown_date == date(2027, 1, 14)


@pytest.mark.parametrize(("model_id", "expected"), LINEUP.items())
def test_current_lineup_is_active_at_the_notes_prices(
    registry: ModelRegistry, model_id: str, expected: tuple[str, float, float]
) -> None:
    model = registry.require_usable(model_id)
    price = model.price_on(NOTES_DATE)
    assert (model.provider, price.input_per_mtok, price.output_per_mtok) == expected
    assert model.status == "active"
    assert model.max_tokens_param is not None


def test_the_registry_holds_these_anthropic_models(registry: ModelRegistry) -> None:
    anthropic = {m.id for m in registry.all() if m.provider == "anthropic"}
    assert anthropic == {
        "claude-fable-5-2",
        "claude-opus-5-5",
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
        "claude-3-5-sonnet-20241022",
        "claude-3-opus-20240229",
        "claude-3-sonnet-20240229",
    }


def test_sonnet_5_5_is_never_sent_a_temperature(registry: ModelRegistry) -> None:
    assert registry.get("claude-sonnet-5-5").accepts_temperature is False
    assert registry.get("gpt-6.2-sol").max_tokens_param == "max_completion_tokens"


def test_offline_is_the_free_keyless_default(registry: ModelRegistry) -> None:
    default = registry.default
    assert (default.id, default.provider, default.status) == ("offline", "offline", "active")
    assert default.max_tokens_param is None
    assert registry.estimate_cost_usd("offline", 1_000_000, 1_000_000, on=NOTES_DATE) == 0


def test_an_unknown_id_lists_exactly_the_active_ids(registry: ModelRegistry) -> None:
    with pytest.raises(InvalidInput, match="unknown model 'gpt-9'") as info:
        registry.get("gpt-9")
    assert info.value.field == "model"
    offered = set(info.value.message.split(": ", 1)[1].split(", "))
    assert offered == {m.id for m in registry.all() if m.status == "active"}
    assert "offline" in offered
    assert "gpt-4" not in offered


def test_a_retired_id_names_its_replacement(registry: ModelRegistry) -> None:
    assert registry.get("gpt-4").status == "retired"
    with pytest.raises(InvalidInput) as info:
        registry.require_usable("gpt-4")
    assert info.value.message == "gpt-4 was retired on 2026-10-23; use gpt-6.2-sol instead"
    assert info.value.field == "model"


def test_cost_estimate_uses_the_per_million_prices(registry: ModelRegistry) -> None:
    # gpt-6.2-sol: $2 in, $10 out per 1M tokens.
    cost = registry.estimate_cost_usd("gpt-6.2-sol", 1_500, 800, on=NOTES_DATE)
    assert cost == pytest.approx(0.011)


def test_cost_estimate_follows_a_dated_price_change(registry: ModelRegistry) -> None:
    before = registry.estimate_cost_usd("gemini-3.8-flash", 1_000_000, 1_000_000, on=date(2026, 12, 31))
    after = registry.estimate_cost_usd("gemini-3.8-flash", 1_000_000, 1_000_000, on=date(2027, 1, 1))
    assert before == pytest.approx(4.5)
    assert after == pytest.approx(9.0)


def test_negative_token_counts_are_refused(registry: ModelRegistry) -> None:
    with pytest.raises(InvalidInput, match="negative"):
        registry.estimate_cost_usd("gpt-6.2-sol", -1, 0)


def entry(model_id: str, **fields: str) -> str:
    values = {
        "provider": '"openai"',
        "display_name": f'"{model_id}"',
        "status": '"active"',
        "max_output_tokens": "100",
        "max_tokens_param": '"max_tokens"',
        "accepts_temperature": "true",
        "prices": "[{ input_per_mtok = 1, output_per_mtok = 2 }]",
        "prices_read_on": "2026-11-28",
        **fields,
    }
    body = "\n".join(f"{key} = {value}" for key, value in values.items())
    return f'[[models]]\nid = "{model_id}"\n{body}\n'


def registry_text(*entries: str, default: str = "a") -> str:
    return f'default_model = "{default}"\n\n' + "\n".join(entries)


RETIRED = {"status": '"retired"', "shutdown_date": "2025-01-01"}


def test_the_test_file_builder_makes_a_valid_file() -> None:
    old = entry("old", **RETIRED, replacement_id='"a"')
    registry = parse_registry(registry_text(entry("a"), old))
    assert [m.id for m in registry.all()] == ["a", "old"]
    assert registry.get("old").replacement_id == "a"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (registry_text(entry("a"), entry("a")), "duplicate id 'a'"),
        (
            registry_text(entry("a"), entry("old", **RETIRED, replacement_id='"ghost"')),
            "old: replacement 'ghost' does not exist",
        ),
        (
            registry_text(
                entry("a"),
                entry("old", **RETIRED, replacement_id='"older"'),
                entry("older", **RETIRED, replacement_id='"a"'),
            ),
            "old: replacement 'older' is itself retired",
        ),
        (
            registry_text(entry("a"), entry("old", status='"deprecated"', replacement_id='"a"')),
            "old: a deprecated model needs shutdown_date",
        ),
        (registry_text(entry("a"), default="zzz"), "default_model 'zzz' is not a usable model"),
        (
            registry_text(entry("a", prices="[{ input_per_mtok = -1, output_per_mtok = 2 }]")),
            r"`float` >= 0.* at `\$.models\[0\].prices\[0\].input_per_mtok`",
        ),
        (registry_text(entry("a", status='"gone"')), r"at `\$.models\[0\].status`"),
        (registry_text(entry("a", max_output_token="5")), "unknown field `max_output_token`"),
        (
            registry_text(entry("a", provider='"offline"')),
            "a: max_tokens_param is required for every provider except offline",
        ),
        (
            registry_text(
                entry(
                    "a",
                    prices="[{ input_per_mtok = 1, output_per_mtok = 2 }, "
                    "{ input_per_mtok = 2, output_per_mtok = 3 }]",
                )
            ),
            "a: only the first price row may",
        ),
        (
            registry_text(
                entry(
                    "a",
                    prices="[{ input_per_mtok = 1, output_per_mtok = 2 }, "
                    "{ input_per_mtok = 2, output_per_mtok = 3, effective_from = 2027-01-01 }, "
                    "{ input_per_mtok = 3, output_per_mtok = 4, effective_from = 2026-01-01 }]",
                )
            ),
            "a: price effective_from dates must rise",
        ),
        ("default_model = ", "invalid model registry"),
    ],
)
def test_a_broken_file_is_rejected_with_the_problem_named(text: str, problem: str) -> None:
    with pytest.raises(Misconfigured, match=problem):
        parse_registry(text)


def test_a_deprecated_model_counts_as_retired_from_its_shutdown_date() -> None:
    registry = load_registry()
    gpt4o = registry.get("gpt-4o")
    assert gpt4o.status == "deprecated" and gpt4o.shutdown_date is not None
    assert registry.require_usable("gpt-4o", today=gpt4o.shutdown_date - timedelta(days=1)) is gpt4o
    with pytest.raises(InvalidInput, match=f"use {gpt4o.replacement_id} instead"):
        registry.require_usable("gpt-4o", today=gpt4o.shutdown_date)
