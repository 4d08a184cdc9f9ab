"""Run every benchmark module (``python -m bench [topic ...]``) and print one JSON per module."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    """Import ``bench.bench_<topic>`` for each selected topic and call its ``run()``."""
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                   if m.name.startswith("bench_"))
    if argv:
        names = [n for n in names if n.removeprefix("bench_") in argv]
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}", file=sys.stderr)
        result = module.run()
        print(json.dumps({"bench": name.removeprefix("bench_"), **result}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
