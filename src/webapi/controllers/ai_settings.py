"""The signed-in user's AI settings (the seed's paths and field names)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import ai_settings
from blogqueue.ai_settings import AiSettingsUpdate, AiSettingsView
from blogqueue.crypto import KeyCipher
from blogqueue.errors import Unauthorized
from blogqueue.models import User
from blogqueue.registry import ModelRegistry
from blogqueue.settings import Settings
from webapi.auth import CurrentUser


async def _row(db_session: AsyncSession, current: CurrentUser) -> User:
    user = await db_session.get(User, current.id)
    if user is None:
        raise Unauthorized("this account no longer exists")
    return user


class AiSettingsController(Controller):
    path = "/api/user/ai-settings"
    tags = ["ai settings"]

    @get("/", summary="Preferred model and which provider keys are set (never the keys)")
    async def read(
        self,
        request: Request[CurrentUser, Any, Any],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> AiSettingsView:
        return await ai_settings.get_ai_settings(db_session, settings, await _row(db_session, request.user))

    @post("/", summary="Change the preferred model and set or remove keys (null removes)", status_code=200)
    async def update(
        self,
        request: Request[CurrentUser, Any, Any],
        data: JSONBody[AiSettingsUpdate],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        cipher: NamedDependency[KeyCipher],
        registry: NamedDependency[ModelRegistry],
    ) -> AiSettingsView:
        user = await _row(db_session, request.user)
        await ai_settings.update_ai_settings(db_session, cipher, registry, user, data)
        return await ai_settings.get_ai_settings(db_session, settings, user)
