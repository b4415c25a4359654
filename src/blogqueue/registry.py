"""The AI models BlogQueue can call, read once from `data/models.toml` and validated, so ids,
lifecycles and prices are data a person edits, not code."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import date
from importlib import resources
from typing import Annotated, Literal

import msgspec

from blogqueue.errors import InvalidInput, Misconfigured
from blogqueue.providers import Provider

Status = Literal["active", "deprecated", "retired"]
TokenParam = Literal["max_tokens", "max_completion_tokens", "max_output_tokens"]

PerMillion = Annotated[float, msgspec.Meta(ge=0)]


class Price(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """USD per million tokens, in force from `effective_from` (the first row: always) to the next row."""

    input_per_mtok: PerMillion
    output_per_mtok: PerMillion
    effective_from: date | None = None


class AiModel(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One callable (or formerly callable) model and the request rules it imposes."""

    id: Annotated[str, msgspec.Meta(min_length=1)]
    provider: Provider
    display_name: str
    status: Status
    max_output_tokens: Annotated[int, msgspec.Meta(gt=0)]
    accepts_temperature: bool
    # A list, not a tuple: Litestar documents `tuple[Price, ...]` items as "Price or anything".
    prices: Annotated[list[Price], msgspec.Meta(min_length=1)]
    prices_read_on: date
    max_tokens_param: TokenParam | None = None  # None only for the offline generator
    shutdown_date: date | None = None
    replacement_id: str | None = None

    def price_on(self, day: date) -> Price:
        """The price row in force on `day`."""
        return [p for p in self.prices if p.effective_from is None or p.effective_from <= day][-1]


class _RegistryFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    default_model: str
    models: list[AiModel]


class ModelRegistry:
    """Look-ups over a validated model list; build it with `parse_registry` or `load_registry`."""

    def __init__(self, models: list[AiModel], default_id: str) -> None:
        self._models = {model.id: model for model in models}
        self._default_id = default_id

    @property
    def default(self) -> AiModel:
        return self._models[self._default_id]

    def all(self) -> list[AiModel]:
        return list(self._models.values())

    def get(self, model_id: str) -> AiModel:
        """The model with this id, whatever its status."""
        model = self._models.get(model_id)
        if model is None:
            active = ", ".join(m.id for m in self._models.values() if m.status == "active")
            raise InvalidInput(f"unknown model {model_id!r}; choose one of: {active}", field="model")
        return model

    def require_usable(self, model_id: str, *, today: date | None = None) -> AiModel:
        """The model if it can still be called: deprecated models can, until their shutdown date."""
        model = self.get(model_id)
        past_shutdown = model.shutdown_date is not None and model.shutdown_date <= (today or date.today())
        if model.status == "retired" or (model.status == "deprecated" and past_shutdown):
            raise InvalidInput(
                f"{model.id} was retired on {model.shutdown_date}; use {model.replacement_id} instead",
                field="model",
            )
        return model

    def estimate_cost_usd(
        self, model_id: str, input_tokens: int, output_tokens: int, *, on: date | None = None
    ) -> float:
        """Cost of one call at the price in force `on` (default today)."""
        if input_tokens < 0 or output_tokens < 0:
            raise InvalidInput("token counts cannot be negative")
        price = self.get(model_id).price_on(on or date.today())
        return (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / 1_000_000


def parse_registry(text: str) -> ModelRegistry:
    """Decode and validate a registry file; a broken one stops the process at start, naming every problem."""
    try:
        data = msgspec.toml.decode(text, type=_RegistryFile)
    except msgspec.DecodeError as err:
        raise Misconfigured(f"invalid model registry: {err}") from err
    problems = list(_problems(data))
    if problems:
        raise Misconfigured("invalid model registry: " + "; ".join(problems))
    return ModelRegistry(data.models, data.default_model)


@functools.cache
def load_registry() -> ModelRegistry:
    """The registry shipped inside the package, parsed once per process."""
    text = (resources.files("blogqueue") / "data" / "models.toml").read_text(encoding="utf-8")
    return parse_registry(text)


def _problems(data: _RegistryFile) -> Iterator[str]:
    by_id: dict[str, AiModel] = {}
    for model in data.models:
        if model.id in by_id:
            yield f"duplicate id {model.id!r}"
        by_id[model.id] = model
    default = by_id.get(data.default_model)
    if default is None or default.status == "retired":
        yield f"default_model {data.default_model!r} is not a usable model"
    for model in data.models:
        yield from _model_problems(model, by_id)


def _model_problems(model: AiModel, by_id: dict[str, AiModel]) -> Iterator[str]:
    if model.status != "active" and (model.shutdown_date is None or model.replacement_id is None):
        yield f"{model.id}: a {model.status} model needs shutdown_date and replacement_id"
    if model.replacement_id is not None:
        replacement = by_id.get(model.replacement_id)
        if replacement is None:
            yield f"{model.id}: replacement {model.replacement_id!r} does not exist"
        elif replacement.status == "retired":
            yield f"{model.id}: replacement {model.replacement_id!r} is itself retired"
    if (model.max_tokens_param is None) != (model.provider is Provider.OFFLINE):
        yield f"{model.id}: max_tokens_param is required for every provider except offline"
    later = [p.effective_from for p in model.prices[1:] if p.effective_from is not None]
    if model.prices[0].effective_from is not None or len(later) != len(model.prices) - 1:
        yield f"{model.id}: only the first price row may (and must) lack effective_from"
    elif later != sorted(set(later)):
        yield f"{model.id}: price effective_from dates must rise"
