"""Dependencies about the caller, shared by the API and the pages. The API provides `current_user`
from its auth middleware; the pages provide their own (they redirect instead of answering 401)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue import users
from blogqueue.models import User
from webapi.auth import CurrentUser


def provide_current_user(request: Request[CurrentUser, Any, Any]) -> CurrentUser:
    return request.user


async def provide_user_row(
    current_user: NamedDependency[CurrentUser], db_session: NamedDependency[AsyncSession]
) -> User:
    """The signed-in user's row, in the request's database session."""
    return await users.signed_in_user(db_session, current_user.id)
