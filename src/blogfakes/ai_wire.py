"""How OpenAI, Anthropic and Gemini word answers and errors on the wire (per the provider notes, §1.2/§1.4)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

INPUT_TOKENS, OUTPUT_TOKENS, THOUGHT_TOKENS = 1200, 800, 100
RATE_LIMIT_RETRY_S = 2
REFUSAL = "I can't help with that request."

_FINISH = {  # the fake's own outcome -> each provider's finish reason
    "openai": {"stop": "stop", "length": "length", "refusal": "stop"},  # a refusal is a message field
    "anthropic": {"stop": "end_turn", "length": "max_tokens", "refusal": "refusal"},
    "gemini": {"stop": "STOP", "length": "MAX_TOKENS", "refusal": "SAFETY"},
    "responses": {"stop": "completed", "length": "incomplete", "refusal": "completed"},
}
_OPENAI_USAGE = {"prompt_tokens": INPUT_TOKENS, "completion_tokens": OUTPUT_TOKENS,
                 "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS}  # fmt: skip
_ANTHROPIC_USAGE = {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS}
_GEMINI_USAGE = {"promptTokenCount": INPUT_TOKENS, "candidatesTokenCount": OUTPUT_TOKENS - THOUGHT_TOKENS,
                 "thoughtsTokenCount": THOUGHT_TOKENS, "totalTokenCount": INPUT_TOKENS + OUTPUT_TOKENS}  # fmt: skip


@dataclass
class Answer:
    model: str
    text: str  # empty for a refusal
    finish: str  # "stop" | "length" | "refusal"
    chunk_chars: int = 0  # characters per streamed delta; 0: the text in 6 deltas

    def pieces(self) -> list[str]:
        size = self.chunk_chars or max(-(-len(self.text) // 6), 1)
        return [self.text[i : i + size] for i in range(0, len(self.text), size)]


def answer_json(provider: str, answer: Answer) -> dict[str, Any]:
    finish = _FINISH[provider][answer.finish]
    if provider == "responses":
        return _response(answer, finish)
    if provider == "openai":
        refusal = REFUSAL if answer.finish == "refusal" else None
        message = {"role": "assistant", "content": answer.text or None, "refusal": refusal}
        choice = {"index": 0, "message": message, "finish_reason": finish}
        return _openai(answer, "chat.completion") | {"choices": [choice], "usage": _OPENAI_USAGE}
    if provider == "anthropic":
        content = [{"type": "text", "text": answer.text}] if answer.text else []
        return {"id": "msg_fake", "type": "message", "role": "assistant", "model": answer.model, "content": content,
                "stop_reason": finish, "stop_sequence": None, "usage": _ANTHROPIC_USAGE}  # fmt: skip
    return _gemini_chunk(answer, answer.text, last=True)


def answer_events(provider: str, answer: Answer) -> Iterator[bytes]:
    """The streamed form: SSE events, the last of which carries the finish reason and usage."""
    if provider == "openai":
        return _openai_events(answer)
    if provider == "anthropic":
        return _anthropic_events(answer)
    if provider == "responses":
        return _responses_events(answer)
    pieces = answer.pieces() or [""]
    return (f"data: {json.dumps(_gemini_chunk(answer, p, last=i == len(pieces) - 1))}\r\n\r\n".encode()
            for i, p in enumerate(pieces))  # fmt: skip


def _openai(answer: Answer, kind: str) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": kind, "created": int(time.time()), "model": answer.model}


def _openai_events(answer: Answer) -> Iterator[bytes]:
    chunk = _openai(answer, "chat.completion.chunk") | {"usage": None}
    deltas = (
        [{"refusal": REFUSAL}] if answer.finish == "refusal" else [{"content": p} for p in answer.pieces()]
    )
    for delta in [{"role": "assistant", "content": ""}, *deltas]:
        yield _sse(chunk | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    last = {"index": 0, "delta": {}, "finish_reason": _FINISH["openai"][answer.finish]}
    yield _sse(chunk | {"choices": [last]})
    yield _sse(chunk | {"choices": [], "usage": _OPENAI_USAGE})  # stream_options.include_usage
    yield b"data: [DONE]\n\n"


def _anthropic_events(answer: Answer) -> Iterator[bytes]:
    start = answer_json("anthropic", answer) | {"content": [], "stop_reason": None,
                                                "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1}}  # fmt: skip
    yield _sse({"type": "message_start", "message": start})
    if answer.text:
        yield _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        yield _sse({"type": "ping"})
        for piece in answer.pieces():
            yield _sse(
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
            )
        yield _sse({"type": "content_block_stop", "index": 0})
    delta = {"stop_reason": _FINISH["anthropic"][answer.finish], "stop_sequence": None}
    yield _sse({"type": "message_delta", "delta": delta, "usage": {"output_tokens": OUTPUT_TOKENS}})
    yield _sse({"type": "message_stop"})


def _response(answer: Answer, status: str, *, text: str | None = None) -> dict[str, Any]:
    """An OpenAI Responses API response object: the last event's payload, or the whole answer."""
    content = [{"type": "output_text", "text": answer.text if text is None else text, "annotations": []}]
    message = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": content,
    }
    usage = {
        "input_tokens": INPUT_TOKENS,
        "output_tokens": OUTPUT_TOKENS,
        "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    }
    done = status != "in_progress"
    return {"id": "resp_fake", "object": "response", "created_at": int(time.time()), "model": answer.model,
            "status": status, "output": [message] if done else [], "usage": usage if done else None,
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}  # fmt: skip


def _responses_events(answer: Answer) -> Iterator[bytes]:
    """The Responses API stream: typed events with sequence numbers, one `response.output_text.delta`
    per piece, and the whole response again in `response.completed` (or `response.incomplete`)."""
    item = {"item_id": "msg_fake", "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response(answer, "in_progress")},
        {
            "type": "response.content_part.added",
            **item,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
        *(
            {"type": "response.output_text.delta", **item, "delta": piece, "logprobs": []}
            for piece in answer.pieces()
        ),
        {"type": "response.output_text.done", **item, "text": answer.text, "logprobs": []},
    ]
    status = _FINISH["responses"][answer.finish]
    events.append({"type": f"response.{status}", "response": _response(answer, status)})
    for number, event in enumerate(events):
        yield _sse(event | {"sequence_number": number})


def _gemini_chunk(answer: Answer, text: str, *, last: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"index": 0}
    if text:
        candidate["content"] = {"role": "model", "parts": [{"text": text}]}
    if last:
        candidate["finishReason"] = _FINISH["gemini"][answer.finish]
    usage = _GEMINI_USAGE if last else {"promptTokenCount": INPUT_TOKENS, "totalTokenCount": INPUT_TOKENS}
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": answer.model}


def _sse(data: dict[str, Any]) -> bytes:
    """Anthropic names each event after its type; OpenAI's chunks have no `type` and no event name."""
    event = f"event: {data['type']}\n" if "type" in data else ""
    return f"{event}data: {json.dumps(data)}\n\n".encode()


# outcome -> provider -> (HTTP status, error type or status, message); {key} and {model} are filled in.
_ERRORS: dict[str, dict[str, tuple[int, str, str]]] = {
    "nokey": {"openai": (401, "invalid_request_error", "You didn't provide an API key."),
              "anthropic": (401, "authentication_error", "x-api-key header is required"),
              "gemini": (403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers.")},
    "badkey": {"openai": (401, "invalid_request_error", "Incorrect API key provided: {key}."),
               "anthropic": (401, "authentication_error", "invalid x-api-key {key}"),
               "gemini": (400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key. ({key})")},
    "missing": {"openai": (404, "invalid_request_error", "The model `{model}` does not exist or you do not have access to it."),
                "anthropic": (404, "not_found_error", "model: {model}"),
                "gemini": (404, "NOT_FOUND", "models/{model} is not found for API version v1.")},
    "quota": {"openai": (429, "insufficient_quota", "You exceeded your current quota, please check your plan and billing details."),
              "anthropic": (429, "rate_limit_error", "You have reached your specified API usage limits."),
              "gemini": (429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and billing details.")},
    "ratelimit": {"openai": (429, "requests", "Rate limit reached for requests. Please try again in 2s."),
                  "anthropic": (429, "rate_limit_error", "Number of requests has exceeded your rate limit."),
                  "gemini": (429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")},
    "flaky": {"openai": (500, "server_error", "The server had an error while processing your request."),
              "anthropic": (500, "api_error", "Internal server error"),
              "gemini": (500, "INTERNAL", "An internal error has occurred.")},
}  # fmt: skip
FAILURES = frozenset(_ERRORS)
_OPENAI_CODES = {"badkey": "invalid_api_key", "missing": "model_not_found", "quota": "insufficient_quota",
                 "ratelimit": "rate_limit_exceeded"}  # fmt: skip


def error_response(
    provider: str, outcome: str, model: str, key: str
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, JSON body, headers) of the provider's answer for a failure outcome."""
    provider = "openai" if provider == "responses" else provider  # one API, one error format
    status, kind, message = _ERRORS[outcome][provider]
    message = message.format(key=key, model=model)
    retry = {"retry-after": str(RATE_LIMIT_RETRY_S)} if outcome == "ratelimit" else {}
    if provider == "openai":
        error = {"message": message, "type": kind, "param": None, "code": _OPENAI_CODES.get(outcome)}
        return status, {"error": error}, retry | {"x-request-id": "req_fake"}
    if provider == "anthropic":
        details = {"details": {"error_code": "enforced_spend_limit_reached"}} if outcome == "quota" else {}
        error = {"type": kind, "message": message} | details
        return (
            status,
            {"type": "error", "error": error, "request_id": "req_fake"},
            retry | {"request-id": "req_fake"},
        )
    error = {"code": status, "message": message, "status": kind} | _gemini_details(outcome)
    return status, {"error": error}, {}  # Gemini says when to retry in the body, not a header


def _gemini_details(outcome: str) -> dict[str, Any]:
    rpc = "type.googleapis.com/google.rpc."
    details: list[dict[str, Any]] = []
    if outcome == "badkey":
        details.append({"@type": rpc + "ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"})
    if outcome in ("quota", "ratelimit"):
        window = "Day" if outcome == "quota" else "Minute"
        quota_id = f"GenerateRequestsPer{window}PerProjectPerModel-FreeTier"
        details.append({"@type": rpc + "QuotaFailure", "violations": [{"quotaId": quota_id}]})
    if outcome == "ratelimit":
        details.append({"@type": rpc + "RetryInfo", "retryDelay": f"{RATE_LIMIT_RETRY_S}s"})
    return {"details": details} if details else {}
