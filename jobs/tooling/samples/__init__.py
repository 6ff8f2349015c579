"""Deterministic sample data: a registry, returns per unit and period, and a
manifest that is the oracle for validation tests.

:func:`generate_samples` plans everything in one process (who reports when,
which file is messy, which carries which defect), then renders the files,
in parallel for large sets. Each file depends only on its plan entry, so the
output is the same for a seed whatever the number of processes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jobs.core.schema import load_schema
from jobs.tooling.samples.content import build_return, month_end, month_start
from jobs.tooling.samples.defects import EXTRA_FILE_CODES, INJECTORS, Context, DefectRef
from jobs.tooling.samples.lean_xlsx import write_lean_xlsx
from jobs.tooling.samples.registry import (
    Unit,
    build_registry,
    person_name,
    phone_number,
    write_registry,
)
from jobs.tooling.samples.writer import (
    Messiness,
    a1,
    build_grids,
    plan_layout,
    write_corrupt,
    write_xls,
    write_xlsx,
)

MANIFEST_FORMAT = 1
TIMEZONE = "Asia/Shanghai"


@dataclass
class Job:
    """Everything needed to render one file."""

    unit: Unit
    place: str
    period: str
    index: int
    periods: tuple[str, ...]
    received_at: dt.datetime
    deadline: dt.datetime
    filled_on: dt.date
    fmt: str
    mess: Messiness
    seed: int
    defect: str | None = None
    variant: int = 0
    path: str = ""
    engine: str = "lean"
    extra: dict[str, Any] = field(default_factory=dict)


def _deadline(period: str) -> dt.datetime:
    return dt.datetime.combine(month_end(period), dt.time(23, 59, 59))


def _arrival(rng: random.Random, period: str, *, late: bool) -> dt.datetime:
    deadline = _deadline(period)
    if late:
        return deadline + dt.timedelta(seconds=rng.randint(600, 6 * 86400))
    start = dt.datetime.combine(month_start(period) + dt.timedelta(days=19), dt.time(8, 0))
    span = int((deadline - start).total_seconds())
    # Many offices send in the last hours before the deadline.
    if rng.random() < 0.15:
        return deadline - dt.timedelta(seconds=rng.randint(0, 3 * 3600))
    return start + dt.timedelta(seconds=rng.randint(0, span))


def _messiness(rng: random.Random, share: float) -> Messiness:
    if rng.random() >= share:
        return Messiness()
    mess = Messiness()
    kinds = rng.sample(
        ["title", "sheet_spaces", "header_spaces", "value_spaces", "fullwidth_digits", "dates", "numbers_as_text",
         "guide_sheet", "sheet_order", "column_order", "trailing", "halfwidth_brackets"],
        k=rng.randint(3, 6),
    )
    for kind in kinds:
        if kind == "title":
            mess.title = rng.random() < 0.7
            mess.title_rows = rng.choice((1, 2, 2, 3))
        elif kind == "dates":
            mess.date_style = rng.choice(("iso", "slash", "dot", "chinese", "mixed"))
        elif kind == "trailing":
            mess.trailing_rows = rng.randint(2, 8)
        else:
            setattr(mess, kind, True)
    return mess


def _place(unit: Unit, by_code: dict[str, Unit]) -> str:
    if unit.level in ("乡级", "村级") and unit.parent in by_code:
        return by_code[unit.parent].name + unit.name
    return unit.name


def plan_jobs(
    registry: list[Unit],
    *,
    periods: tuple[str, ...],
    defects: float,
    seed: int,
    messy: float,
    xls: float,
    xlsxwriter: float = 0.05,
) -> tuple[list[Job], dict[str, list[str]]]:
    """Decide every file: arrival, lateness, format, messiness and defect; and who is missing."""
    by_code = {u.code: u for u in registry}
    reporters = [u for u in registry if u.must_report]
    exempt = [u for u in registry if not u.must_report and u.level != "全国"]
    jobs: list[Job] = []
    missing: dict[str, list[str]] = {}
    for index, period in enumerate(periods):
        missing[period] = []
        for unit in reporters:
            rng = random.Random(f"{seed}:{unit.code}:{period}:arrival")
            r = rng.random()
            if r < 0.05:
                missing[period].append(unit.code)
                continue
            late = r < 0.13
            received = _arrival(rng, period, late=late)
            filled = max(received.date() - dt.timedelta(days=rng.randint(0, 3)), month_start(period) + dt.timedelta(days=16))
            fmt = "xls" if rng.random() < xls else "xlsx"
            engine = "xlsxwriter" if rng.random() < xlsxwriter else "lean"
            jobs.append(Job(unit, _place(unit, by_code), period, index, periods, received, _deadline(period), filled,
                            fmt, _messiness(rng, messy), seed, engine=engine))
    rng = random.Random(f"{seed}:defects")
    chosen = sorted(rng.sample(range(len(jobs)), k=min(len(jobs), round(defects * len(jobs)))))
    codes = list(INJECTORS)
    extras: list[Job] = []
    taken = {(job.period, job.unit.code) for job in jobs}  # one file per unit and period
    for n, i in enumerate(chosen):
        code = codes[n % len(codes)]
        variant = n // len(codes)
        job = jobs[i]
        if code in EXTRA_FILE_CODES:
            # The unit's own file stays correct; another sender's file carries the defect.
            sender = _extra_sender(code, variant, job, exempt, rng, taken)
            if sender is None:
                continue  # every candidate sender already has a file this period
            taken.add((job.period, sender.code))
            extras.append(Job(sender, _place(sender, by_code), job.period, job.index, periods, job.received_at,
                              job.deadline, job.filled_on, "xlsx", Messiness(), seed, code, variant))
        else:
            job.defect, job.variant = code, variant
            if code == "unreadable-file":
                job.fmt = "xlsx"
    _link_copies(jobs, rng)
    jobs += extras
    for job in jobs:
        job.path = f"returns/{job.period}/{job.unit.code}.{job.fmt}"
    return jobs, missing


def _link_copies(jobs: list[Job], rng: random.Random) -> None:
    """Every other copied-text defect copies another unit's 见物 (same period) instead of its own.

    The source is a clean file of that period; it is flagged too (validation
    flags every unit of a group of identical texts), so its manifest entry
    lists the induced copied-text at its first ledger row.
    """
    used: set[int] = set()
    for n, job in enumerate(jobs):
        if job.defect != "copied-text" or job.variant % 3 != 0:
            continue
        candidates = [i for i, other in enumerate(jobs) if other.period == job.period and other.defect is None
                      and other.unit.code != job.unit.code and i not in used and not other.extra]
        if not candidates:
            continue
        source = rng.choice(candidates)
        used.add(source)
        jobs[source].extra["copied_to"] = job.unit.code
        job.extra["copy_from"] = jobs[source]
        used.add(n)


def _source_text(source: Job) -> str:
    data = build_return(source.unit, place=source.place, periods=source.periods, index=source.index,
                        filled_on=source.filled_on, seed=source.seed)
    return data.tables["ledger"][0]["facts"]


def _extra_sender(code: str, variant: int, job: Job, exempt: list[Unit], rng: random.Random,
                  taken: set[tuple[str, str]]) -> Unit | None:
    """Who sends an extra file (not-required: an exempt unit; unknown-unit: a stranger) that has
    no file in the job's period yet: two files for one unit would share a path, one overwriting
    the other while the manifest listed both."""
    if code == "not-required" and exempt:
        for k in range(len(exempt)):
            unit = exempt[(variant + k) % len(exempt)]
            if (job.period, unit.code) not in taken:
                return unit
        return None
    for _ in range(100):
        unit = _stranger(job, rng)
        if (job.period, unit.code) not in taken:
            return unit
    return None


def _stranger(job: Job, rng: random.Random) -> Unit:
    """A sender the registry does not know (a newly set-up unit, a mistyped code)."""
    code = f"99{rng.randint(0, 9999):04d}"
    name = rng.choice(("临港经济开发区管委会", "高新技术产业园区管委会", "新区筹备组", "综合保税区管理局"))
    return Unit(code, name, None, "县级", "地方", person_name(rng), phone_number(rng))


def render_job(job: Job, out: str, schema_path: str | None = None) -> dict[str, Any]:
    """Write one file and return its manifest entry (runs in worker processes)."""
    schema = load_schema(schema_path) if schema_path else load_schema()
    data = build_return(job.unit, place=job.place, periods=job.periods, index=job.index,
                        filled_on=job.filled_on, seed=job.seed)
    rng = random.Random(f"{job.seed}:{job.unit.code}:{job.period}:layout")
    refs = []
    if job.defect:
        source = job.extra.get("copy_from")
        ctx = Context(random.Random(f"{job.seed}:{job.unit.code}:{job.period}:defect"), job.received_at.date(),
                      job.variant, _source_text(source) if source is not None else None)
        made = INJECTORS[job.defect](data, ctx)
        refs.extend(made if isinstance(made, list) else [made])
    if job.extra.get("copied_to"):
        refs.append(DefectRef("copied-text", "ledger", 0, "facts"))
    layouts = plan_layout(data, schema, job.mess, rng)
    title = f"{job.unit.name}整改落实情况“回头看”报表（{job.period}）"
    grids = build_grids(data, layouts, schema, job.mess, rng, title=title)
    path = Path(out) / job.path
    path.parent.mkdir(parents=True, exist_ok=True)
    if job.defect == "unreadable-file":
        write_corrupt(path, grids)
    elif job.fmt == "xls":
        write_xls(path, grids)
    elif job.engine == "xlsxwriter":
        write_xlsx(path, grids)
    else:
        write_lean_xlsx(path, grids)
    stamp = job.received_at.replace(tzinfo=ZoneInfo(TIMEZONE)).timestamp()
    os.utime(path, (stamp, stamp))
    by_key = {lay.key: lay for lay in layouts}
    defects = []
    for ref in refs:
        spec = schema.finding(ref.code)
        sheet = schema.sheet(ref.sheet) if ref.sheet else None
        column = None
        if sheet is not None and ref.column:
            column = next(c.name for c in sheet.columns if c.key == ref.column)
        row = col = None
        if ref.sheet in by_key:
            row, col = by_key[ref.sheet].cell(ref.row, ref.column)
        defects.append({
            "code": ref.code,
            "severity": spec.severity,
            "sheet": sheet.name if sheet else None,
            "row": row,
            "column": column,
            "cell": a1(by_key[ref.sheet], row, col) if ref.sheet in by_key else None,
        })
    return {
        "path": job.path,
        "unit": job.unit.code,
        "period": job.period,
        "format": job.fmt,
        "writer": "corrupt" if job.defect == "unreadable-file" else ("xlwt" if job.fmt == "xls" else job.engine),
        "received_at": job.received_at.isoformat(),
        "late": job.received_at > job.deadline,
        "messiness": job.mess.names(),
        "defects": defects,
    }


def _render_star(args: tuple[Job, str, str | None]) -> dict[str, Any]:
    return render_job(*args)


def dump_manifest(manifest: dict[str, Any]) -> str:
    """JSON with one line per file entry: compact, yet diffable and greppable."""
    head = {k: v for k, v in manifest.items() if k != "files"}
    text = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    files = ",\n  ".join(json.dumps(f, ensure_ascii=False) for f in manifest["files"])
    return f'{text},\n "files": [\n  {files}\n ]\n}}\n'


def generate_samples(
    out: str | Path,
    *,
    units: int = 40,
    periods: tuple[str, ...] = ("2015-01", "2015-02"),
    defects: float = 0.3,
    seed: int = 7,
    messy: float = 0.4,
    xls: float = 0.1,
    processes: int | None = None,
    schema_path: str | None = None,
) -> dict[str, Any]:
    """Generate a registry, returns and ``manifest.json`` under ``out``; return the manifest.

    Parameters
    ----------
    units
        Approximate number of reporting units.
    periods
        Periods ``YYYY-MM``; content progresses from one to the next.
    defects
        Share of returns carrying exactly one known defect (0..1).
    messy, xls
        Share of files with messiness, and of legacy ``.xls`` files.
    processes
        Worker processes; default: one per CPU for large sets, none for small.
    """
    if not 0 <= defects <= 1:
        msg = f"defects must be between 0 and 1, got {defects}"
        raise ValueError(msg)
    schema = load_schema(schema_path) if schema_path else load_schema()
    periods = tuple(sorted(periods))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "manifest.json").exists() and (out / "returns").is_dir():
        # A previous sample set: stale returns would contradict the new manifest.
        shutil.rmtree(out / "returns")
    registry = build_registry(units=units, seed=seed)
    write_registry(registry, out / "registry.xlsx", sheet=schema.registry_sheet,
                   headers=tuple(c.name for c in schema.registry_columns))
    jobs, missing = plan_jobs(registry, periods=periods, defects=defects, seed=seed, messy=messy, xls=xls)
    args = [(job, str(out), schema_path) for job in jobs]
    if processes is None:
        processes = (os.cpu_count() or 1) if len(jobs) > 400 else 0
    workers = processes
    if workers and workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            files = pool.map(_render_star, args, chunksize=64)
    else:
        files = [_render_star(a) for a in args]
    expected = sum(u.must_report for u in registry)
    manifest = {
        "format": MANIFEST_FORMAT,
        "seed": seed,
        "parameters": {"units": units, "periods": list(periods), "defects": defects, "seed": seed,
                       "messy": messy, "xls": xls},
        "timezone": TIMEZONE,
        "registry": "registry.xlsx",
        "registry_units": len(registry),
        "periods": {
            p: {"deadline": _deadline(p).isoformat(), "expected_units": expected, "missing_units": missing[p]}
            for p in periods
        },
        "files": files,
    }
    (out / "manifest.json").write_text(dump_manifest(manifest), encoding="utf-8")
    return manifest


def restore_arrival_times(root: str | Path) -> int:
    """Set every sample file's modification time to its manifest ``received_at``.

    Git does not keep modification times, and intake takes the arrival time
    from them: a fresh clone's committed samples would all look late. Returns
    the number of files touched.
    """
    root = Path(root)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    zone = ZoneInfo(manifest.get("timezone", TIMEZONE))
    touched = 0
    for entry in manifest["files"]:
        path = root / entry["path"]
        if path.is_file():
            stamp = dt.datetime.fromisoformat(entry["received_at"]).replace(tzinfo=zone).timestamp()
            os.utime(path, (stamp, stamp))
            touched += 1
    return touched
