"""Peak memory per limit (issue #16, item 11): big returns at and over the caps, against a small one.

Each case ingests its files into a fresh home in a fresh process (in-process
executor, one batch) and reports that process's peak RSS; ratios are against
the ``small`` case of the same run, so they hold on any machine:

- ``small``            — one return with 20 ledger rows (the baseline);
- ``at_cap_1/4``       — 1 and 4 returns whose ledger fills ``max_rows_per_sheet`` rows (accepted);
- ``at_cap_bad_4``     — 4 such returns with an error on every ledger row
  (findings capped at ``max_findings_per_return`` each);
- ``batch_mb_full``    — as many returns at the rows cap as ``batch_mb`` holds, in one batch;
- ``over_cap_1/4``     — 1 and 4 returns of ``--over-rows`` ledger rows (the issue's 99,000),
  refused by preflight;
- ``over_uncapped_1/4`` — the same files with the caps lifted (how it was before the limits).

Returns are written with xlsxwriter (constant memory), cached in bench/.cache/memory.
Prints one JSON object and writes ``bench/results/memory-latest.json``.

    .venv/bin/python -m bench.run memory                       # full: 99,000-row returns
    .venv/bin/python -m bench.run memory --over-rows 20000     # small scale
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import CACHE, RESULTS, git_revision
from jobs.core.schema import load_schema
from jobs.office.config import Limits

PERIOD = "2015-02"
# the first four are the 1- and 4-return cases; the others fill a batch up to batch_mb
UNITS = [("110000", "北京市"), ("120000", "天津市"), ("130000", "河北省"), ("140000", "山西省")] + [
    (f"{150000 + 100 * i}", f"测试单位{i}") for i in range(1, 200)
]
REGISTRY = "单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送\n000000,全国,,全国,地方,,,否\n" + "".join(
    f"{code},{name},000000,省级,地方,张三,010-1,是\n" for code, name in UNITS
)
_MIB = 1024 * 1024


def write_return(path: Path, *, unit: str, name: str, rows: int, bad: bool = False) -> Path:
    """A return with ``rows`` ledger rows (each with a bad 整改状态 when ``bad``), written in constant memory."""
    import xlsxwriter  # noqa: PLC0415 - only the generator needs it

    from tests import hostile as H  # noqa: PLC0415 - the tests' valid content

    schema = load_schema()
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    date = wb.add_format({"num_format": "yyyy-mm-dd"})

    def put(ws: Any, r: int, values: list[Any]) -> None:
        for c, value in enumerate(values):
            if isinstance(value, dt.datetime):
                ws.write_datetime(r, c, value, date)
            elif value is not None:
                ws.write(r, c, value)

    for sheet in schema.sheets:
        ws = wb.add_worksheet(sheet.name)
        put(ws, 0, list(sheet.headers))
        if sheet.key == "info":
            values = H._info_values(unit, name, PERIOD)  # noqa: SLF001
            for r, col in enumerate(sheet.columns, start=1):
                put(ws, r, [col.name, values.get(col.name, "")])
        elif sheet.key == "accountability":
            for r, col in enumerate(sheet.columns, start=1):
                put(ws, r, [col.name, 1])
        elif sheet.key == "ledger":
            for seq in range(1, rows + 1):
                row = H._ledger_row(seq)  # noqa: SLF001
                if bad:
                    row["整改状态"] = "差不多了"
                put(ws, seq, [row.get(c.name) for c in sheet.columns])
        elif sheet.key == "tasks":
            for r, (no, title) in enumerate(schema.tasks.items(), start=1):
                row = {"任务编号": no, "任务名称": title, "承担方式": "牵头", "排查问题数": 3, "已整改数": 2,
                       "立案查处数": 1, "进展情况": "已按要求推进整改，完成阶段目标。"}  # fmt: skip
                put(ws, r, [row.get(c.name) for c in sheet.columns])
        elif sheet.key == "institutions":
            row = {"制度名称": "公务接待管理办法", "制度类别": "新建", "状态": "已出台",
                   "出台日期": dt.datetime(2015, 1, 10), "文号": "京办发〔2015〕1号"}  # fmt: skip
            put(ws, 1, [row.get(c.name) for c in sheet.columns])
        elif sheet.key == "members":
            row = {"姓名": "张三", "职务": "书记", "查摆问题": "调查研究不够深入", "整改措施": "每月下基层调研",
                   "落实情况": "已落实", "见物": H.FACTS, "见思想": H.MINDSET}  # fmt: skip
            put(ws, 1, [row.get(c.name) for c in sheet.columns])
    wb.close()
    return path


def _files(kind: str, rows: int, count: int, *, bad: bool = False) -> list[Path]:
    folder = CACHE / "memory" / f"{kind}-{rows}{'-bad' if bad else ''}"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for unit, name in UNITS[:count]:
        path = folder / f"{unit}.xlsx"
        if not path.exists():
            write_return(path.with_suffix(".tmp"), unit=unit, name=name, rows=rows, bad=bad).rename(path)
        out.append(path)
    return out


def run_case(files: list[Path], *, limits: dict[str, Any]) -> dict[str, Any]:
    """Ingest ``files`` into a fresh home in a fresh process; its peak RSS and the verdicts."""
    with tempfile.TemporaryDirectory(prefix="rectify-memory-") as tmp:
        spec = {"home": tmp, "files": [str(f) for f in files], "limits": limits}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "bench.bench_memory", "--one", json.dumps(spec)],
                              capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        out = json.loads(done.stdout.strip().splitlines()[-1])
        out["seconds"] = round(time.perf_counter() - started, 1)
        return out


def _one(spec: dict[str, Any]) -> None:
    """In the fresh process: a home, the registry, the config's limits, one ingest."""
    from jobs import api  # noqa: PLC0415
    from jobs.office.home import Home, init_home  # noqa: PLC0415

    root = Path(spec["home"])
    init_home(root / "home")
    text = (root / "home" / "config.toml").read_text(encoding="utf-8")
    for key, value in spec["limits"].items():
        text = "\n".join(f"{key} = {value}" if line.startswith(f"{key} = ") else line for line in text.splitlines())
    (root / "home" / "config.toml").write_text(text + "\n", encoding="utf-8")
    home = Home(root / "home")
    (root / "registry.csv").write_text(REGISTRY, encoding="utf-8")
    home.import_registry(root / "registry.csv", from_period="2015-01")
    result = api.ingest(home, [Path(f) for f in spec["files"]], period=PERIOD, receipts=True)
    subs = home.store.submissions(PERIOD)
    reports = home.store.reports(subs["submission_id"].to_list())
    print(json.dumps({
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "accepted": int(subs["accepted"].sum()), "files": len(result.files),
        "findings_listed": sum(len(r.findings) for r in reports), "errors_counted": int(subs["n_errors"].sum()),
    }))  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.run memory", description=__doc__.split("\n")[0])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--over-rows", type=int, default=99_000, help="ledger rows of the over-cap returns")
    parser.add_argument("--skip-uncapped", action="store_true", help="do not measure the caps lifted")
    parser.add_argument("--only", default="", help="comma-separated case names (the small baseline always runs)")
    args = parser.parse_args(argv)
    if args.one:
        _one(json.loads(args.one))
        return
    limits = Limits()
    cap, over = limits.max_rows_per_sheet - 1, args.over_rows  # the header row counts: cap - 1 items fit
    lifted = {"max_rows_per_sheet": 1_000_000, "max_findings_per_return": 1_000_000_000}
    cases: dict[str, tuple[list[Path], dict[str, Any]]] = {
        "small": (_files("small", 20, 1), {}),
        "at_cap_1": (_files("cap", cap, 1), {}),
        "at_cap_4": (_files("cap", cap, 4), {}),
        "at_cap_bad_4": (_files("cap", cap, 4, bad=True), {}),
        "over_cap_1": (_files("over", over, 1), {}),
        "over_cap_4": (_files("over", over, 4), {}),
    }
    one = _files("cap", cap, 1)[0].stat().st_size
    full = min(len(UNITS), max(1, int(limits.batch_mb * _MIB // one)))
    cases["batch_mb_full"] = (_files("cap", cap, full), {})  # one batch of returns at the cap, up to batch_mb
    if not args.skip_uncapped:
        cases["over_uncapped_1"] = (_files("over", over, 1), lifted)
        cases["over_uncapped_4"] = (_files("over", over, 4), lifted)
    if args.only:
        chosen = {"small", *args.only.split(",")}
        cases = {k: v for k, v in cases.items() if k in chosen}
    results: dict[str, Any] = {}
    for name, (files, config) in cases.items():
        print(f"[memory] {name} ...", file=sys.stderr, flush=True)
        results[name] = {**run_case(files, limits=config), "mb_in": round(sum(f.stat().st_size for f in files) / _MIB, 2)}
    base = results["small"]["peak_rss_mib"]
    for entry in results.values():
        entry["ratio_to_small"] = round(entry["peak_rss_mib"] / base, 2)
    out = {
        "bench": "memory", "git": git_revision(), "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "limits": {"max_rows_per_sheet": limits.max_rows_per_sheet, "rows_at_cap": cap, "max_findings_per_return": limits.max_findings_per_return,
                   "batch_mb": limits.batch_mb, "over_rows": over},
        "cases": results,
    }  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "memory-latest.json").write_text(json.dumps(out, ensure_ascii=False, indent=2), encoding="utf-8")
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
