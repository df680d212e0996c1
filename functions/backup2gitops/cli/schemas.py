"""``backup2gitops schemas [--out DIR]``: the JSON Schemas of the event catalog, of the
configuration file (``config.schema.json``, for editors and CI checks of a config) and of
health-aggregator's ``GET /status`` answer (``status.schema.json``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def schema_documents() -> dict[str, str]:
    """File name -> JSON text, for every event type, the envelope and the configuration."""
    from backup2gitops.cli.config_reference import config_schema
    from backup2gitops.core.cloudevent import envelope_schema
    from backup2gitops.core.events import CATALOG
    from backup2gitops.core.status import StatusReport

    status = StatusReport.model_json_schema(mode="serialization")
    status["$id"] = "https://backup2gitops.io/schemas/status.schema.json"
    status["description"] = "health-aggregator's GET /status (Accept: application/json)"
    documents = {
        "cloudevent.json": envelope_schema(),
        "config.schema.json": config_schema(),
        "status.schema.json": status,
    }
    for event_type, model in CATALOG.items():
        schema = model.model_json_schema()
        schema["$id"] = f"https://backup2gitops.io/schemas/{event_type}.json"
        schema["description"] = f"data of CloudEvents of type {event_type}"
        documents[f"{event_type}.json"] = schema
    return {
        name: json.dumps(doc, indent=2, sort_keys=True) + "\n" for name, doc in documents.items()
    }


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "schemas", help="write the JSON Schemas (event catalog, configuration)"
    )
    parser.add_argument("--out", type=Path, help="directory to write into (default: print)")
    parser.add_argument(
        "-o",
        "--output",
        choices=("json", "yaml", "name", "table"),
        default="json",
        help="printed as one document, name -> schema (default: json); name: one "
        "schema/FILE a line; table: each file and its title",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    documents = schema_documents()
    if args.out is None:
        combined = {name: json.loads(text) for name, text in documents.items()}
        if args.output == "name":
            sys.stdout.write("".join(f"schema/{name}\n" for name in combined))
        elif args.output == "table":
            width = max(len(name) for name in combined)
            sys.stdout.write(f"{'FILE'.ljust(width)}  TITLE\n")
            for name, schema in combined.items():
                title = str(schema.get("title") or schema.get("description") or "")
                sys.stdout.write(f"{name.ljust(width)}  {title}".rstrip() + "\n")
        elif args.output == "yaml":
            import yaml

            sys.stdout.write(yaml.safe_dump(combined, sort_keys=False))
        else:
            print(json.dumps(combined, indent=2))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in documents.items():
        (args.out / name).write_text(text)
    print(f"wrote {len(documents)} schemas to {args.out}")
    return 0
