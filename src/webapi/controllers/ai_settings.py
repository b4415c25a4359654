"""The signed-in user's AI settings (the seed's paths and field names)."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import ai_settings
from blogqueue.ai_settings import AiSettingsUpdate, AiSettingsView
from blogqueue.crypto import KeyCipher
from blogqueue.models import User
from blogqueue.registry import ModelRegistry
from blogqueue.settings import Settings
from webapi.openapi import errors


class AiSettingsController(Controller):
    path = "/api/user/ai-settings"
    tags = ["ai settings"]

    @get("/", summary="Preferred model and which provider keys are set (never the keys)", responses=errors())
    async def read(
        self,
        user_row: NamedDependency[User],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> AiSettingsView:
        return await ai_settings.get_ai_settings(db_session, settings, user_row)

    @post(
        "/",
        summary="Change the preferred model and set or remove keys (null removes)",
        status_code=200,
        responses=errors(422),
    )
    async def update(
        self,
        data: JSONBody[AiSettingsUpdate],
        user_row: NamedDependency[User],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        cipher: NamedDependency[KeyCipher],
        registry: NamedDependency[ModelRegistry],
    ) -> AiSettingsView:
        await ai_settings.update_ai_settings(db_session, cipher, registry, user_row, data)
        return await ai_settings.get_ai_settings(db_session, settings, user_row)
