"""Users: creation, password hashing (argon2), sign-in checks and account switches."""

from __future__ import annotations

import functools
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from blogqueue.errors import Conflict, InvalidInput, NotFound, Unauthorized
from blogqueue.models import Role, User

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1_024
MAX_EMAIL_LENGTH = 320  # RFC 3696's limit
ACCOUNT_GONE = "this account no longer exists"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified when the email is unknown, so a wrong email takes as long as a wrong password. Made
    on first use: a hash takes argon2's 64 MB, which a worker, never signing anyone in, need not."""
    return _hasher.hash("not-a-real-password")


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(email):
        raise InvalidInput(f"{email!r} is not an email address", field="email")
    return email


def check_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must be {MIN_PASSWORD_LENGTH}-{MAX_PASSWORD_LENGTH} characters", field="password"
        )


async def create_user(session: AsyncSession, email: str, password: str, role: Role = Role.USER) -> User:
    email = normalize_email(email)
    check_password(password)
    user = User(email=email, password_hash=_hasher.hash(password), role=role)
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as err:
        await session.rollback()
        raise Conflict(f"a user with email {email} already exists", field="email") from err
    await session.refresh(user)
    return user


async def signed_in_user(session: AsyncSession, user_id: int) -> User:
    """The row of a user a valid session names; Unauthorized if it was deleted since."""
    user = await session.get(User, user_id)
    if user is None:
        raise Unauthorized(ACCOUNT_GONE)
    return user


async def get_by_email(session: AsyncSession, email: str) -> User:
    user = (await session.exec(select(User).where(User.email == email.strip().lower()))).first()
    if user is None:
        raise NotFound(f"no user with email {email}")
    return user


async def by_reference(session: AsyncSession, ref: str) -> User:
    """The enabled user a job names in `userId`: by id (digits) or by email."""
    query = (
        select(User).where(User.id == int(ref))
        if ref.isdecimal() and len(ref) < 10
        else (select(User).where(User.email == ref.strip().lower()))
    )
    user = (await session.exec(query)).first()
    if user is None or user.disabled:
        raise InvalidInput(
            f"userId {ref!r} names no enabled user (give a user's id or email)", field="userId"
        )
    return user


async def list_users(session: AsyncSession) -> list[User]:
    return list((await session.exec(select(User).order_by(col(User.id)))).all())


async def count_users(session: AsyncSession) -> int:
    return int((await session.exec(select(func.count()).select_from(User))).one())


async def authenticate(session: AsyncSession, email: str, password: str) -> User | None:
    """The enabled user with these credentials, or None; timing does not reveal which part was wrong."""
    user = (await session.exec(select(User).where(User.email == email.strip().lower()))).first()
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        await session.commit()
    return user


async def set_disabled(session: AsyncSession, email: str, disabled: bool) -> User:
    user = await get_by_email(session, email)
    user.disabled = disabled
    await session.commit()
    return user


async def set_password(session: AsyncSession, email: str, password: str) -> User:
    check_password(password)
    user = await get_by_email(session, email)
    user.password_hash = _hasher.hash(password)
    await session.commit()
    return user
