"""Synthetic registries, stored tables and submissions (vectorised), for tests and the benchmark.

Not used by the job itself. Values are drawn from the schema's enum lists; the
frames have exactly the stored layouts of :mod:`jobs.core.tables`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from jobs.core.schema import Schema, load_schema
from jobs.core.tables import table_schema
from jobs.office.registry import REGISTRY_SCHEMA


@dataclass
class Synthetic:
    registry: pl.DataFrame
    tables: dict[str, pl.DataFrame]
    submissions: pl.DataFrame
    history: dict[str, pl.DataFrame]  # the previous period's counted ledger
    period: str
    deadline: datetime


def _registry(rng: np.random.Generator, schema: Schema, provinces: int, fanout: tuple[int, ...], central: int) -> pl.DataFrame:
    levels = schema.levels
    rows = [("000000", "全国", None, levels[0], schema.categories[0])]
    frontier = []
    for p in range(provinces):
        code = f"P{p:02d}"
        rows.append((code, f"省{p}", "000000", levels[1], schema.categories[0]))
        frontier.append(code)
    for depth, n in enumerate(fanout, start=2):
        nxt = []
        for parent in frontier:
            for i in range(n):
                code = f"{parent}.{i}"
                rows.append((code, f"单位{code}", parent, levels[depth], schema.categories[0]))
                nxt.append(code)
        frontier = nxt
    for c in range(central):
        cat = schema.categories[1 + c % (len(schema.categories) - 1)]
        code = f"C{c:02d}"
        rows.append((code, f"中央单位{c}", "000000", levels[1], cat))
        for i in range(int(rng.integers(0, 4))):
            rows.append((f"{code}.{i}", f"中央单位{c}下属{i}", code, levels[2], cat))
    frame = pl.DataFrame(rows, schema=["code", "name", "parent", "level", "category"], orient="row")
    must = rng.random(frame.height) < 0.9
    must[0] = False
    return frame.with_columns(
        pl.lit(None, pl.Utf8).alias("contact"), pl.lit(None, pl.Utf8).alias("phone"), pl.Series("must_report", must)
    ).select(list(REGISTRY_SCHEMA))


def _pick(rng: np.random.Generator, values: tuple[str, ...] | None, n: int) -> np.ndarray:
    return np.asarray(values)[rng.integers(0, len(values or ()), n)]


def _ledger(rng: np.random.Generator, schema: Schema, sids: np.ndarray, units: np.ndarray, period: str,
            counts: np.ndarray, end: date) -> pl.DataFrame:  # fmt: skip
    cols = {c.key: c for c in schema.sheet("ledger").columns}
    n = int(counts.sum())
    idx = np.repeat(np.arange(len(sids)), counts)
    seq = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    status = _pick(rng, cols["status"].values, n)
    evaluation = _pick(rng, cols["evaluation"].values, n)
    done = cols["status"].values[0]
    ok = np.isin(evaluation, cols["evaluation"].values[:2]) & (status == done)
    closed = np.where(ok & (rng.random(n) < 0.7), cols["closed"].values[0], cols["closed"].values[1])
    deadline = np.datetime64(end) - rng.integers(-40, 60, n).astype("timedelta64[D]")
    frame = pl.DataFrame(
        {
            "submission_id": sids[idx],
            "unit": units[idx],
            "period": np.full(n, period),
            "row": (seq + 1).astype(np.int32),
            "seq": seq.astype(np.int64),
            "source": _pick(rng, cols["source"].values, n),
            "category": _pick(rng, cols["category"].values, n),
            "problem": pl.Series(seq).cast(pl.Utf8).to_numpy().astype(object),
            "measure": np.full(n, "整改措施"),
            "leader": np.full(n, "张三"),
            "deadline": deadline,
            "status": status,
            "done_on": np.where(status == done, deadline, np.datetime64("NaT")),
            "people": np.full(n, "张三李四"),
            "facts": np.full(n, "具体事实和数字成效说明文字"),
            "mindset": np.full(n, "思想根源和受到的教育说明文字"),
            "evaluation": evaluation,
            "closed": closed,
        }
    )
    # free text unique per item and of realistic length, as real returns have
    # (constant text would make the stored Parquet unrealistically cheap to read)
    u, q = pl.col("unit"), pl.col("seq")
    frame = frame.with_columns(
        pl.format("{}第{}项：会议文件过多过长、督查检查考核过多过频，基层负担较重", u, q).alias("problem"),
        pl.format("{}第{}项：制定精简会议文件办法，建立督查检查计划管理制度并公开", u, q).alias("measure"),
        pl.format("责任领导{}号", q).alias("leader"),
        pl.format("{}办公室主任王{}、科员李{}", u, q, q).alias("people"),
        pl.format("{}第{}项：全年会议减少{}个，文件压缩{}件，节约经费{}万元，群众反映明显好转", u, q, q * 3, q * 7, q * 11).alias("facts"),
        pl.format("{}第{}项：根源在于宗旨意识淡薄、政绩观有偏差，通过学习深刻认识到四风危害", u, q).alias("mindset"),
    )
    layout = table_schema("ledger", schema=schema)
    return frame.with_columns(pl.lit(None, t).alias(c) for c, t in layout.items() if c not in frame.columns).select(
        list(layout)
    ).cast(layout)  # type: ignore[arg-type]


def _per_return(rng, schema, key, sids, units, period, counts, make) -> pl.DataFrame:  # noqa: ANN001
    n = int(counts.sum())
    idx = np.repeat(np.arange(len(sids)), counts)
    base = {"submission_id": sids[idx], "unit": units[idx], "period": np.full(n, period)}
    layout = table_schema(key, schema=schema)
    if "row" in layout:
        base["row"] = (np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts) + 2).astype(np.int32)
    base.update(make(n, counts))
    frame = pl.DataFrame(base)
    return frame.select(
        pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c) for c, t in layout.items()
    )


def _tables(rng: np.random.Generator, schema: Schema, sids: np.ndarray, units: np.ndarray, period: str,
            items: tuple[int, int], end: date) -> dict[str, pl.DataFrame]:  # fmt: skip
    k = len(sids)
    one = np.ones(k, dtype=np.int64)
    ntasks = len(schema.tasks)

    def tasks(n: int, _c: np.ndarray) -> dict:
        found = rng.integers(0, 20, n)
        return {"task_no": np.tile(np.arange(1, ntasks + 1), k), "found": found,
                "fixed": (found * rng.random(n)).astype(np.int64), "cases": rng.integers(0, 3, n),
                "role": _pick(rng, ("牵头", "参与"), n),
                "task_name": np.asarray([schema.tasks[t] for t in range(1, ntasks + 1)] * k),
                "progress": np.char.add("已排查整改，建立长效机制，第", np.arange(n).astype(str))}  # fmt: skip

    inst_cols = {c.key: c for c in schema.sheet("institutions").columns}
    mem_cols = {c.key: c for c in schema.sheet("members").columns}
    acc_keys = [c.key for c in schema.sheet("accountability").columns if c.type == "integer"]
    return {
        "info": _per_return(rng, schema, "info", sids, units, period, one,
                            lambda n, c: {"unit_code": units, "report_type": np.full(n, schema.default_report_type)}),
        "ledger": _ledger(rng, schema, sids, units, period, rng.integers(items[0], items[1] + 1, k), end),
        "tasks": _per_return(rng, schema, "tasks", sids, units, period, np.full(k, ntasks), tasks),
        "institutions": _per_return(rng, schema, "institutions", sids, units, period, rng.integers(0, 4, k),
                                    lambda n, c: {"title": np.char.add("关于进一步改进作风密切联系群众的实施办法之", np.arange(n).astype(str)), "kind": _pick(rng, inst_cols["kind"].values, n),
                                                  "state": _pick(rng, inst_cols["state"].values, n)}),
        "accountability": _per_return(rng, schema, "accountability", sids, units, period, one,
                                      lambda n, c: {key: rng.integers(0, 5, n) for key in acc_keys}),
        "members": _per_return(rng, schema, "members", sids, units, period, rng.integers(1, 4, k),
                               lambda n, c: {"member": np.char.add("成员", np.arange(n).astype(str)),
                                             "facts": np.char.add("本人带头减少会议和文件，全年少开会议、压缩文件，成效编号", np.arange(n).astype(str)),
                                             "mindset": np.char.add("思想根源在于群众观念淡薄，通过学习提高了认识，编号", np.arange(n).astype(str)),
                                             "state": _pick(rng, mem_cols["state"].values, n)}),
    }  # fmt: skip


def synthetic(
    *,
    provinces: int = 4,
    fanout: tuple[int, ...] = (3, 3, 2),
    central: int = 3,
    items: tuple[int, int] = (1, 8),
    seed: int = 0,
    period: str = "2015-02",
    previous: str = "2015-01",
    schema: Schema | None = None,
) -> Synthetic:
    """A registry with ``provinces`` provinces of the given fan-out plus central units, and returns.

    About 85% of the units report (10% of them late); a few units also have a
    rejected and a superseded submission whose rows must count nowhere.
    """
    schema = schema or load_schema()
    rng = np.random.default_rng(seed)
    registry = _registry(rng, schema, provinces, fanout, central)
    year, month = (int(p) for p in period.split("-"))
    end = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1))
    deadline = datetime(end.year, end.month, end.day, 23, 59, 59)
    codes = registry["code"].to_numpy()[1:]
    reporting = codes[rng.random(len(codes)) < 0.85]
    sids = np.asarray([f"{period}-{c}" for c in reporting], dtype=object)
    late = rng.random(len(reporting)) < 0.1
    received = [deadline + timedelta(days=2) if x else deadline - timedelta(days=3) for x in late]
    tables = _tables(rng, schema, sids, reporting, period, items, end)
    # noise: rejected and superseded submissions of a few units, with rows
    noisy = reporting[rng.random(len(reporting)) < 0.05]
    noise_ids = np.asarray([f"{period}-{c}-old" for c in noisy], dtype=object)
    noise = _tables(rng, schema, noise_ids, noisy, period, items, end)
    tables = {k: pl.concat([tables[k], noise[k]]) for k in tables}
    rejected = noisy[: len(noisy) // 2]
    subs = [
        {"submission_id": str(s), "unit": str(u), "period": period, "received_at": r, "accepted": True, "superseded_by": None}
        for s, u, r in zip(sids, reporting, received, strict=True)
    ]
    for s, u in zip(noise_ids, noisy, strict=True):
        is_rejected = u in set(rejected)
        subs.append({"submission_id": str(s), "unit": str(u), "period": period, "received_at": deadline - timedelta(days=9),
                     "accepted": not is_rejected, "superseded_by": None if is_rejected else f"{period}-{u}"})  # fmt: skip
    sub_schema = {"submission_id": pl.Utf8, "unit": pl.Utf8, "period": pl.Utf8, "received_at": pl.Datetime("us"),
                  "accepted": pl.Boolean, "superseded_by": pl.Utf8}  # fmt: skip
    submissions = pl.DataFrame(subs, schema=sub_schema).with_columns(
        pl.col("received_at").cast(pl.Datetime("us")),
        pl.lit(schema.default_report_type).alias("report_type"),
        pl.lit(1, pl.Int64).alias("version"),
    )
    prev_ids = np.asarray([f"{previous}-{c}" for c in reporting], dtype=object)
    history = {"ledger": _tables(rng, schema, prev_ids, reporting, previous, items, end)["ledger"]}
    return Synthetic(registry, tables, submissions, history, period, deadline)
