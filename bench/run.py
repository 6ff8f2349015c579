"""Benchmark harness: ``python -m bench.run NAME [options]`` (NAME: validate)."""

from __future__ import annotations

import sys

BENCHES = {"validate": "bench.bench_validate"}


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in BENCHES:
        print(f"usage: python -m bench.run {{{'|'.join(BENCHES)}}} [options]", file=sys.stderr)
        raise SystemExit(2)
    import importlib

    importlib.import_module(BENCHES[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    main()
