"""The AI models a user can pick, from the registry."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

from blogqueue.registry import AiModel, ModelRegistry
from webapi.openapi import errors


class ModelsController(Controller):
    path = "/api/ai/models"
    tags = ["ai settings"]

    @get(
        "/",
        summary="Every model with provider, status (and replacement), limits and prices",
        responses=errors(),
    )
    async def list_models(self, registry: NamedDependency[ModelRegistry]) -> list[AiModel]:
        return registry.all()
