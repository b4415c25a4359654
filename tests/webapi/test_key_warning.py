"""The warning that the preferred model's provider has no key, on the pages that use the model."""

from blogqueue.providers import Provider
from blogqueue.registry import load_registry
from tests.webapi.conftest import Site
from tests.webapi.test_roles import get, sign_in_as

OPENAI_MODEL = next(
    m for m in load_registry().all() if m.provider is Provider.OPENAI and m.status == "active"
)
WARNING = f"Your preferred model, {OPENAI_MODEL.display_name}, needs a key for OpenAI:"


async def test_a_preferred_model_without_a_key_is_named_until_a_key_is_saved(site: Site) -> None:
    await sign_in_as(site.client, "admin")
    offline = await get(site.client, "/admin/settings/ai")
    assert 'id="key-warning"' in offline.text and "needs a key" not in offline.text  # offline takes none

    admin = site.headers["admin"]
    chosen = await site.client.post(
        "/api/user/ai-settings", json={"preferredAiModel": OPENAI_MODEL.id}, headers=admin
    )
    assert chosen.status_code == 200, chosen.text
    settings_page = await get(site.client, "/admin/settings/ai")
    assert f"{WARNING} add one below." in settings_page.text
    generate = await get(site.client, "/admin/blog/auto-generate")
    assert f'{WARNING} add one in <a href="/admin/settings/ai">AI settings</a>.' in generate.text

    keyed = await site.client.post(
        "/api/user/ai-settings", json={"openaiApiKey": "sk-test-0123456789"}, headers=admin
    )
    assert keyed.status_code == 200, keyed.text
    assert "needs a key" not in (await get(site.client, "/admin/settings/ai")).text
    assert "needs a key" not in (await get(site.client, "/admin/blog/auto-generate")).text
