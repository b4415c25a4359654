import pytest

from blogqueue import db, users
from blogqueue.errors import Conflict, InvalidInput
from blogqueue.models import Role
from blogqueue.settings import Settings


async def test_users_are_created_hashed_and_authenticated(db_settings: Settings) -> None:
    engine = db.create_engine(db_settings)
    try:
        async with db.session_factory(engine)() as session:
            admin = await users.create_user(session, " Admin@Example.com ", "correct horse", Role.ADMIN)
            assert (admin.email, admin.role, admin.preferred_ai_model) == (
                "admin@example.com",
                "admin",
                "offline",
            )
            assert "correct horse" not in admin.password_hash
            assert (await users.authenticate(session, "ADMIN@example.com", "correct horse")) is not None
            assert await users.authenticate(session, "admin@example.com", "wrong password") is None
            assert await users.authenticate(session, "nobody@example.com", "correct horse") is None
            with pytest.raises(Conflict, match="already exists"):
                await users.create_user(session, "admin@example.com", "another pass")
            await users.set_disabled(session, "admin@example.com", True)
            assert await users.authenticate(session, "admin@example.com", "correct horse") is None
            await users.set_disabled(session, "admin@example.com", False)
            await users.set_password(session, "admin@example.com", "new password!")
            assert await users.authenticate(session, "admin@example.com", "new password!") is not None
            assert [u.email for u in await users.list_users(session)] == ["admin@example.com"]
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [
        ("not-an-email", "long enough", "email"),
        ("a@b.co", "short", "password"),
        ("a@b.co", "x" * 2000, "password"),
    ],
)
async def test_bad_email_or_password_is_refused(
    sqlite_settings: Settings, email: str, password: str, field: str
) -> None:
    engine = db.create_engine(sqlite_settings)
    try:
        async with db.session_factory(engine)() as session:
            with pytest.raises(InvalidInput) as info:
                await users.create_user(session, email, password)
            assert info.value.field == field
            assert await users.count_users(session) == 0
    finally:
        await engine.dispose()
