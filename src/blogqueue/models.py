"""Database tables (SQLModel). Rows stay inside the core: wire schemas are separate."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"


class Provider(StrEnum):
    GEMINI = "gemini"
    OPENAI = "openai"
    ANTHROPIC = "anthropic"


def _timestamp() -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=False)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(default=Role.USER.value, max_length=16)  # a Role; plain text keeps migrations simple
    preferred_ai_model: str = Field(default="offline", max_length=100)
    disabled: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class ProviderKey(SQLModel, table=True):
    """One user's key for one provider, encrypted; `last4` lets people recognise it."""

    __tablename__ = "provider_keys"
    __table_args__ = (UniqueConstraint("user_id", "provider", name="uq_provider_keys_user_provider"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    provider: str = Field(max_length=16)  # a Provider
    ciphertext: str = Field(sa_column=Column(Text, nullable=False))
    last4: str = Field(max_length=4)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
