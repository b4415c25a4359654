import io
import json

import structlog

from blogqueue.connection import redis_client
from blogqueue.logs import configure_logging
from tests.webapi.conftest import Site

OPENAI_KEY = "sk-proj-SECRETVALUE-abcd1234"
ANTHROPIC_KEY = "sk-ant-api03-SECRETVALUE-wxyz"


async def _all_redis_text(site: Site) -> str:
    client = redis_client(site.settings)
    parts = []
    for key in await client.keys("*"):
        kind = await client.type(key)
        if kind == "string":
            parts.append(str(await client.get(key)))
        elif kind == "hash":
            parts.append(json.dumps(await client.hgetall(key)))
        elif kind == "zset":
            parts.append(json.dumps(await client.zrange(key, 0, -1)))
        elif kind == "list":
            parts.append(json.dumps(await client.lrange(key, 0, -1)))
        elif kind == "stream":
            parts.append(repr(await client.xrange(key)))
        parts.append(str(key))
    await client.aclose()
    return "\n".join(parts)


async def test_settings_round_trip_without_ever_returning_a_key(site: Site) -> None:
    logs = io.StringIO()
    configure_logging(site.settings, stream=logs)
    headers = site.headers["alice"]
    initial = await site.client.get("/api/user/ai-settings", headers=headers)
    assert initial.status_code == 200
    assert initial.json()["preferredAiModel"] == "offline"
    assert initial.json()["providers"]["openai"] == {"configured": False, "last4": None, "updatedAt": None}
    assert set(initial.json()["serverKeys"]) == {"gemini", "openai", "anthropic"}

    saved = await site.client.post(
        "/api/user/ai-settings",
        json={"preferredAiModel": "gpt-4o", "openaiApiKey": OPENAI_KEY, "anthropicApiKey": ANTHROPIC_KEY},
        headers=headers,
    )
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["preferredAiModel"] == "gpt-4o"
    assert body["providers"]["openai"]["configured"] is True
    assert body["providers"]["openai"]["last4"] == "1234"
    assert body["providers"]["openai"]["updatedAt"]
    again = await site.client.get("/api/user/ai-settings", headers=headers)
    assert again.json() == body

    removed = await site.client.post("/api/user/ai-settings", json={"openaiApiKey": None}, headers=headers)
    assert removed.json()["providers"]["openai"]["configured"] is False
    assert removed.json()["providers"]["anthropic"]["configured"] is True
    assert removed.json()["preferredAiModel"] == "gpt-4o"

    structlog.get_logger("t").info("probe", data={"openaiApiKey": OPENAI_KEY})  # even a careless log line
    everything = saved.text + again.text + removed.text + logs.getvalue() + await _all_redis_text(site)
    assert "SECRETVALUE" not in everything
    assert "ai_settings_updated" in logs.getvalue()


async def test_one_user_never_sees_or_changes_another_users_settings(site: Site) -> None:
    await site.client.post(
        "/api/user/ai-settings", json={"openaiApiKey": OPENAI_KEY}, headers=site.headers["alice"]
    )
    bob = await site.client.get("/api/user/ai-settings", headers=site.headers["bob"])
    assert bob.json()["providers"]["openai"]["configured"] is False
    await site.client.post("/api/user/ai-settings", json={"openaiApiKey": None}, headers=site.headers["bob"])
    alice = await site.client.get("/api/user/ai-settings", headers=site.headers["alice"])
    assert alice.json()["providers"]["openai"]["last4"] == "1234"


async def test_bad_input_is_422_with_a_message_and_saves_nothing(site: Site) -> None:
    headers = site.headers["alice"]
    cases = [
        ({"preferredAiModel": "gpt-9000", "openaiApiKey": OPENAI_KEY}, "offline"),
        ({"preferredAiModel": "gpt-4", "openaiApiKey": OPENAI_KEY}, "gpt-6.2-sol"),
        ({"preferredAiModel": "gpt-4o", "openaiApiKey": ""}, "openaiApiKey"),
        ({"preferredAiModel": "gpt-4o", "geminiApiKey": "   "}, "geminiApiKey"),
        ({"preferredAiModel": "gpt-4o", "anthropicApiKey": "k" * 600}, "anthropicApiKey"),
        ({"preferredAiModel": "gpt-4o", "openaiApiKey": 12345}, "openaiApiKey"),
        ({"preferredAiModel": "gpt-4o", "mistralApiKey": OPENAI_KEY}, "mistralApiKey"),
        ([], ""),
    ]
    for body, mentions in cases:
        response = await site.client.post("/api/user/ai-settings", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert mentions in response.text, (body, response.text)
    state = (await site.client.get("/api/user/ai-settings", headers=headers)).json()
    assert state["preferredAiModel"] == "offline"
    assert not any(provider["configured"] for provider in state["providers"].values())


async def test_models_list_comes_from_the_registry(site: Site) -> None:
    response = await site.client.get("/api/ai/models", headers=site.headers["bob"])
    assert response.status_code == 200
    models = {model["id"]: model for model in response.json()}
    assert models["offline"]["status"] == "active"
    assert models["gpt-4"]["status"] == "retired"
    assert models["gpt-4"]["replacement_id"] == "gpt-6.2-sol"
    assert {"gemini", "openai", "anthropic", "offline"} == {model["provider"] for model in models.values()}
