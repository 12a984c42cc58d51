"""``annotel schemas export DIR``: the event contract as JSON Schema files, for platform feeds."""

from __future__ import annotations

import argparse
from pathlib import Path

from schemas.export import export_schemas


def cmd_schemas_export(args: argparse.Namespace) -> int:
    for path in export_schemas(Path(args.dir)):
        print(path)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schemas = sub.add_parser("schemas", help="event contract tools")
    schemas_sub = schemas.add_subparsers(dest="schemas_command", required=True)
    export = schemas_sub.add_parser("export", help="write the JSON Schema files to DIR")
    export.add_argument("dir")
    export.set_defaults(func=cmd_schemas_export)
