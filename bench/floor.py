"""Stage: the raw-parse floor — fastexcel parses every sheet of every file, nothing else.

No cleaning, no validation, no writes: the fastest the files can be read on
these cores with this stack. Uses the same local process pool and batch size
as intake, so the ratio intake/floor measures the job's own overhead.

    python -m bench.floor --corpus DIR --workers 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.corpus import list_returns
from bench.harness import emit
from jobs.intake.executors import batched, make_executor


def parse_batch(_context: object, paths: list[Path]) -> tuple[int, int, int]:
    """(files, sheets, rows) after loading every sheet of every file as strings."""
    import fastexcel

    files = sheets = rows = 0
    for path in paths:
        try:
            reader = fastexcel.read_excel(str(path))
            for name in reader.sheet_names:
                frame = reader.load_sheet_by_name(name, header_row=None, dtypes="string").to_polars()
                sheets += 1
                rows += frame.height
        except Exception:  # noqa: BLE001 - the floor only counts; broken files are the reader's business
            pass
        files += 1
    return files, sheets, rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=200)
    args = parser.parse_args(argv)
    paths = list_returns(args.corpus)
    start = time.perf_counter()
    files = sheets = rows = 0
    with make_executor("local", workers=args.workers, preload=("polars", "fastexcel")) as executor:
        for f, s, r in executor.map(parse_batch, batched(paths, args.batch_size)):
            files, sheets, rows = files + f, sheets + s, rows + r
        workers = executor.workers
    emit({"files": files, "rows": rows, "sheets": sheets, "seconds": time.perf_counter() - start, "workers": workers})


if __name__ == "__main__":
    main()
