"""Export the JSON Schemas of the terminal contract to ``docs/mqtt-schemas/``.

``python -m bedside.schemas [DIR]`` rewrites the files; a test checks the committed ones are
current.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bedside.contract import schemas

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "docs" / "mqtt-schemas"


def render() -> dict[str, str]:
    """File name → text of each schema, stable (sorted keys, trailing newline)."""
    out = {}
    for name, schema in schemas().items():
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
        out[name] = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return out


def export(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else DEFAULT_DIR
    for path in export(target):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
