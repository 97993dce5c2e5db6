"""`tiktok-harvest intake-schema`: the JSON Schemas of the intake contract (ops/intake/)."""

import json
from pathlib import Path

import typer


def intake_schema_command(
    out: Path | None = typer.Option(None, "--out", "-o", help="Folder to write one file per schema into; "
                                    "all of them as one JSON document on standard output when left out."),
):
    """Print or write the JSON Schemas of the intake messages (submit, pause, resume, cancel), of the envelope a publisher writes to Redis and of the reply."""  # noqa: E501 (one line a paragraph: the help keeps the line breaks)
    from schemas.json_schemas import intake_schemas

    schemas = intake_schemas()
    if out is None:
        typer.echo(json.dumps(schemas, indent=2))
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas.items():
        (out / name).write_text(render(schema), encoding="utf-8")
    typer.echo(f"{len(schemas)} schemas written to {out}", err=True)


def render(schema: dict) -> str:
    """The checked-in form: stable, readable diffs."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
