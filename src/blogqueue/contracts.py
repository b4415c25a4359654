"""The wire contracts as files, generated from the types themselves: a JSON Schema for every job
payload and every run event, and a TypeScript declaration file for Node producers and listeners.

`python -m blogqueue.contracts [DIR]` writes them (default `contracts/`); a test fails when the
files in the repository differ from what the types say, so they cannot go stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from blogqueue import run_events
from blogqueue.payloads import GeneratePost, GenerateRun, PublishPost, RunRequest, SelfTest
from blogqueue.queues import QUEUE_NAME, JobName

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://blogqueue.local/contracts/"  # a name, not a place: the files are the contract

# A job name's payloads; `generate` takes either a run id or a whole request.
JOBS: dict[JobName, tuple[type[msgspec.Struct], ...]] = {
    JobName.GENERATE: (GenerateRun, RunRequest),
    JobName.GENERATE_POST: (GeneratePost,),
    JobName.SELFTEST: (SelfTest,),
    JobName.PUBLISH_POST: (PublishPost,),
}


def flat_event_type(kind: type[run_events.RunEvent]) -> type[msgspec.Struct]:
    """A run event kind as it travels: the common fields and its own (`data`) side by side."""
    fields: list[tuple[str, Any, Any]] = []
    data_type: Any = None
    for field in msgspec.structs.fields(kind):
        if field.name == "data":
            data_type = field.type
        else:
            fields.append((field.encode_name, field.type, field.default))
    for field in msgspec.structs.fields(data_type):
        fields.append((field.encode_name, field.type, field.default))
    tag = kind.__struct_config__.tag
    flat = msgspec.defstruct(
        kind.__name__, fields, kw_only=True, tag_field="kind", tag=tag, module=kind.__module__
    )
    flat.__doc__ = kind.__doc__ or f"The `{tag}` run event."
    return flat


def _schema(name: str, title: str, types: tuple[Any, ...], description: str) -> dict[str, Any]:
    refs, components = msgspec.json.schema_components(types)
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"{ID_BASE}{name}",
        "title": title,
        "description": description,
        **(refs[0] if len(refs) == 1 else {"anyOf": list(refs)}),
        "$defs": components,
    }


def job_schemas() -> dict[str, dict[str, Any]]:
    return {
        f"jobs/{name.value}.schema.json": _schema(
            f"jobs/{name.value}.schema.json",
            f"data of a `{name.value}` job on queue `{QUEUE_NAME}`",
            types,
            "Unknown fields are ignored; `version` changes only on a breaking change.",
        )
        for name, types in JOBS.items()
    }


def event_schemas() -> dict[str, dict[str, Any]]:
    return {
        f"events/{kind}.schema.json": _schema(
            f"events/{kind}.schema.json",
            f"the `{kind}` run event",
            (flat_event_type(event_type),),
            "As sent over Server-Sent Events (JSON). In the Redis stream the same fields are stream "
            "fields, `kind` is `event`, and every value is a string (numbers in decimal).",
        )
        for kind, event_type in run_events.KINDS.items()
    }


# -- TypeScript ---------------------------------------------------------------------------------


_SCALARS = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean", "null": "null"}


def _ts(schema: dict[str, Any], stream: bool = False) -> str:
    """A TypeScript type for a (msgspec-made) JSON Schema node; `stream`: every scalar is a string."""
    if "$ref" in schema:
        found = str(schema["$ref"]).rsplit("/", 1)[-1]
    elif "anyOf" in schema:
        found = " | ".join(_ts(option, stream) for option in schema["anyOf"])
    elif "enum" in schema:
        found = " | ".join(json.dumps(value) for value in schema["enum"])
    elif schema.get("type") == "array":
        found = f"Array<{_ts(schema.get('items', {}), stream)}>"
    elif schema.get("type") == "object":
        found = "Record<string, unknown>"
    else:
        found = "string" if stream else _SCALARS.get(str(schema.get("type")), "unknown")
    return found


def _property(name: str, spec: dict[str, Any], required: set[str], stream: bool, event: bool) -> str:
    if stream and name == "kind":  # QueueEvents hands the kind over as `event`
        return f"  event: {_ts(spec)};"
    if (stream or event) and "anyOf" in spec:  # unset optional fields are absent, never null
        spec = next(option for option in spec["anyOf"] if option.get("type") != "null")
    return f"  {name}{'' if name in required else '?'}: {_ts(spec, stream)};"


def _interface(name: str, schema: dict[str, Any], stream: bool = False, event: bool = False) -> str:
    """An interface for an object schema (a type alias for anything else)."""
    doc = f"/** {schema.get('description', schema.get('title', name)).splitlines()[0].strip()} */"
    if "properties" not in schema:
        return f"{doc}\nexport type {name} = {_ts(schema, stream)};"
    required = set(schema.get("required", []))
    fields = [_property(field, spec, required, stream, event) for field, spec in schema["properties"].items()]
    return "\n".join([doc, f"export interface {name} {{", *fields, "}"])


def typescript() -> str:
    parts = [
        "// Generated by `python -m blogqueue.contracts` from BlogQueue's payload and event types.",
        f"// Queue `{QUEUE_NAME}`: job names, the data each takes, the run events on its event stream.",
        "",
    ]
    seen: set[str] = set()
    for schema in job_schemas().values():
        for name, component in schema["$defs"].items():
            if name not in seen:
                seen.add(name)
                parts += [_interface(name, component), ""]
    jobs = " | ".join(
        f"{{ name: {json.dumps(name.value)}; data: {' | '.join(t.__name__ for t in types)} }}"
        for name, types in JOBS.items()
    )
    parts += [
        "/** A job BlogQueue's workers take: `queue.add(job.name, job.data, opts)`. */",
        f"export type BlogQueueJob = {jobs};",
        "",
    ]
    events: list[str] = []
    for schema in event_schemas().values():
        (name,) = schema["$ref"].rsplit("/", 1)[-1:]
        component = schema["$defs"][name]
        parts += [_interface(f"{name}Event", component, event=True), ""]
        parts += [_interface(f"{name}Fields", component, stream=True, event=True), ""]
        events.append(name)
    parts += [
        "/** A run event as Server-Sent Events carry it (JSON, typed values). */",
        f"export type RunEvent = {' | '.join(f'{name}Event' for name in events)};",
        "/** A run event as QueueEvents hands it to a listener: `event` names it, all values are strings. */",
        f"export type RunEventFields = {' | '.join(f'{name}Fields' for name in events)};",
        "",
    ]
    return "\n".join(parts)


def render() -> dict[str, str]:
    """Every contract file: path below the contracts directory -> its text."""
    files = {
        path: json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        for path, schema in {**job_schemas(), **event_schemas()}.items()
    }
    files["blogqueue.d.ts"] = typescript()
    return files


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "contracts")
    for path, text in render().items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {len(render())} files under {root}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
