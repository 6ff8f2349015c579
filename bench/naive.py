"""Stage: the naive approach an analyst would write, on a subset, one core.

Per file: ``pandas.read_excel(path, sheet_name=None, engine="openpyxl")``,
find the ledger sheet and its header row, then one GX validation of the ledger
with ~10 expectations (one GX context and suite for the whole run, as an
analyst would; a batch and a validation run per file). It is measured on the
first ``--sample`` files only and reported per file; the harness extrapolates
to the whole corpus and to the same number of cores *as if it scaled
perfectly*, which flatters the naive approach.

    python -m bench.naive --corpus DIR --sample 50
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from bench.corpus import list_returns
from bench.harness import emit
from jobs.core.schema import load_schema


def _expectations(gxe, sheet) -> list:  # noqa: ANN001 - GX module
    """~10 expectations on the ledger, from the schema (names, enums, required)."""
    cols = {c.key: c for c in sheet.columns}
    out = [gxe.ExpectColumnValuesToNotBeNull(column=cols[k].name) for k in ("seq", "problem", "measure", "deadline")
           if k in cols]  # fmt: skip
    for c in sheet.columns:
        if c.values:
            out.append(gxe.ExpectColumnValuesToBeInSet(column=c.name, value_set=list(c.values)))
    if "seq" in cols:
        out.append(gxe.ExpectColumnValuesToBeUnique(column=cols["seq"].name))
    return out[:10]


def _ledger(frames: dict, names: list[str]):  # noqa: ANN001, ANN202 - pandas frames
    """The ledger sheet with its real header row (the first row holding 序号)."""
    for sheet_name, frame in frames.items():
        if sheet_name.strip() != names[0]:
            continue
        if names[1] in [str(c).strip() for c in frame.columns]:
            frame.columns = [str(c).strip() for c in frame.columns]
            return frame
        for i in range(min(len(frame), 10)):
            row = [str(v).strip() for v in frame.iloc[i].tolist()]
            if names[1] in row:
                body = frame.iloc[i + 1 :].copy()
                body.columns = row
                return body.reset_index(drop=True)
        return frame
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--sample", type=int, default=50)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import pandas as pd
    from great_expectations.data_context.types.base import ProgressBarsConfig

    schema = load_schema()
    sheet = schema.sheet("ledger")
    paths = list_returns(args.corpus)[: args.sample]

    start = time.perf_counter()
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = ctx.data_sources.add_pandas("naive").add_dataframe_asset("ledger")
    batch_def = asset.add_batch_definition_whole_dataframe("whole")
    suite = ctx.suites.add(gx.ExpectationSuite(name="ledger"))
    for exp in _expectations(gxe, sheet):
        suite.add_expectation(exp)
    setup = time.perf_counter() - start

    start = time.perf_counter()
    files = rows = failed = 0
    for path in paths:
        files += 1
        try:
            frames = pd.read_excel(path, sheet_name=None, engine="openpyxl")
        except Exception:  # noqa: BLE001 - the naive script skips what it cannot open
            failed += 1
            continue
        rows += sum(len(f) for f in frames.values())
        ledger = _ledger(frames, [sheet.name, sheet.columns[0].name])
        if ledger is None:
            failed += 1
            continue
        ledger = ledger.astype(str).where(ledger.notna(), None)
        batch = batch_def.get_batch(batch_parameters={"dataframe": ledger})
        batch.validate(suite, result_format="COMPLETE")
    seconds = time.perf_counter() - start
    emit({"files": files, "rows": rows, "seconds": seconds, "setup_seconds": setup, "unreadable": failed,
          "workers": 1})  # fmt: skip


if __name__ == "__main__":
    main()
