import io
import json

import structlog

from blogqueue.logs import REDACTED, configure_logging
from blogqueue.settings import Settings


def _log_line(**fields: object) -> dict[str, object]:
    stream = io.StringIO()
    configure_logging(Settings(_env_file=None, log_format="auto"), stream=stream)  # type: ignore[call-arg]
    structlog.get_logger("t").info("event_name", **fields)
    line: dict[str, object] = json.loads(stream.getvalue().strip().splitlines()[-1])
    return line


def test_non_tty_output_is_json_with_the_event_name() -> None:
    line = _log_line(job_id="j1")
    assert line["event"] == "event_name"
    assert line["job_id"] == "j1"
    assert line["level"] == "info"


def test_key_like_fields_are_redacted() -> None:
    line = _log_line(api_key="abc123", openaiApiKey="sk-live", password="pw", token="t", job_id="j1")
    assert line["api_key"] == line["openaiApiKey"] == line["password"] == line["token"] == REDACTED
    assert line["job_id"] == "j1"


def test_key_shaped_values_and_url_passwords_are_redacted_anywhere() -> None:
    line = _log_line(
        error="provider said: invalid key sk-proj-abcdefghijklmnop",
        nested={"headers": {"Authorization": "Bearer x"}, "note": "AIzaSyA1234567890123456789012345"},
        url="redis://user:hunter2@host:6379/0",
    )
    text = json.dumps(line)
    for secret in ("sk-proj-abcdefghijklmnop", "Bearer x", "AIzaSyA1234567890123456789012345", "hunter2"):
        assert secret not in text
    assert "redis://user:***@host:6379/0" in text
