"""A published period as every view reads it: the frozen versions, and what was received after.

:func:`freeze` replaces the period's rows of the ledger's submissions by those
the latest publication froze (:mod:`jobs.store.publication`), each with the
``superseded_by`` it had then; rows recorded later are left out of the view
and returned apart as *received after publication* (发布后收到), each with
what it would change at the next revision:

- ``replace``: an accepted return of a unit whose published version counts
  (``replaces`` is that version);
- ``add``: an accepted return of a unit with no counted version then;
- ``none``: a rejected return (it never counts).

Withdrawals and restores recorded after the publication change nothing here:
the frozen ``superseded_by`` already holds the state the publication used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from jobs.store.publication import Publication

if TYPE_CHECKING:
    from jobs.office.home import Home

Effect = Literal["replace", "add", "none"]
EFFECT_LABELS: dict[str, str] = {"replace": "将替代已计入的第{replaces}版", "add": "将新增该单位的报表", "none": "退回，不计入"}
LATE_SCHEMA: dict[str, pl.DataType] = {
    "unit": pl.Utf8(), "version": pl.Int64(), "report_type": pl.Utf8(), "received_at": pl.Datetime("us"),
    "file_name": pl.Utf8(), "accepted": pl.Boolean(), "effect": pl.Utf8(), "replaces": pl.Int64(),
}  # fmt: skip


@dataclass(frozen=True)
class Frozen:
    """The view's submissions with the period frozen, the publication in force and the returns received since."""

    submissions: pl.DataFrame
    publication: Publication | None
    late: pl.DataFrame  # LATE_SCHEMA rows, by arrival


def freeze(home: Home, submissions: pl.DataFrame, *, period: str, default_report_type: str) -> Frozen:
    """The period's rows of ``submissions`` as the latest publication froze them (unchanged when unpublished)."""
    found = home.store.publications(period)
    if not found:
        return Frozen(submissions, None, pl.DataFrame(schema=LATE_SCHEMA))
    pub = found[-1]
    frozen = pl.DataFrame(
        home.store.published_versions(period, pub.revision),
        schema={"submission_id": pl.Utf8, "_frozen": pl.Utf8, "_counts": pl.Boolean}, orient="row",
    )  # fmt: skip
    in_period = pl.col("period") == period
    mine = submissions.filter(in_period)
    kept = (
        mine.join(frozen, on="submission_id", how="inner")
        .with_columns(pl.col("_frozen").alias("superseded_by"))
        .select(submissions.columns)
    )
    late = mine.join(frozen, on="submission_id", how="anti")
    counted = (
        kept.filter(pl.col("accepted") & pl.col("superseded_by").is_null())
        .select("unit", pl.col("report_type").fill_null(default_report_type), pl.col("version").alias("replaces"))
    )
    late = (
        late.with_columns(pl.col("report_type").fill_null(default_report_type))
        .join(counted, on=["unit", "report_type"], how="left", nulls_equal=True)
        .with_columns(
            pl.when(~pl.col("accepted")).then(pl.lit("none"))
            .when(pl.col("replaces").is_not_null()).then(pl.lit("replace"))
            .otherwise(pl.lit("add")).alias("effect"),
        )
        .with_columns(pl.when(pl.col("effect") == "replace").then(pl.col("replaces")).alias("replaces"))
        .sort("received_at", "unit", "version")
        .select(list(LATE_SCHEMA))
        .cast(LATE_SCHEMA)
    )  # fmt: skip
    out = pl.concat([submissions.filter(~in_period), kept]).sort("period", "unit", "version")
    return Frozen(out, pub, late)


def late_json(late: pl.DataFrame) -> list[dict[str, Any]]:
    """``received_after_publish``: one object per return received after the publication (English keys)."""
    return [
        {"unit": r["unit"], "version": r["version"], "report_type": r["report_type"],
         "received_at": r["received_at"].isoformat() if isinstance(r["received_at"], datetime) else None,
         "file_name": r["file_name"], "verdict": "accepted" if r["accepted"] else "rejected",
         "effect": r["effect"], "replaces": r["replaces"]}
        for r in late.iter_rows(named=True)
    ]  # fmt: skip


def late_label(item: dict[str, Any]) -> str:
    """Chinese line for one return received after publication (an item of :func:`late_json`)."""
    effect = EFFECT_LABELS[item["effect"]].format(replaces=item["replaces"])
    when = (item["received_at"] or "")[:16].replace("T", " ")
    return f"{item['unit']} 第{item['version']}版（{item['report_type']}，{when}收到）：{effect}"


def publication_json(publication: Publication | None, late: pl.DataFrame) -> dict[str, Any]:
    """The keys ``summarize --json`` adds: ``published_at`` (None), ``revision`` (0), ``received_after_publish`` ([])
    when the period is unpublished."""
    if publication is None:
        return {"published_at": None, "revision": 0, "received_after_publish": []}
    return {"published_at": publication.at.isoformat(), "revision": publication.revision,
            "received_after_publish": late_json(late)}  # fmt: skip


def publication_note(publication: Publication | None, late: pl.DataFrame) -> str:
    """Chinese: which publication the figures are and what was received since (for the report)."""
    if publication is None:
        return "本期尚未发布（rectify publish），数字为生成时的当前数字，可能随后续报表变化。"
    note = (f"本报告为{publication.period}{publication.label}的数字（名册第{publication.registry_version}版，"
            f"截止时间{publication.deadline:%Y-%m-%d %H:%M}）。")  # fmt: skip
    if late.height:
        note += f"发布后收到报表{late.height}份，未计入，待更正发布后计入。"
    return note


def publication_lines(published: dict[str, Any]) -> list[str]:
    """Which publication the figures are (Chinese), and the returns received after it."""
    if not published.get("revision"):
        return ["本期尚未发布（rectify publish），以上为当前数字。"]
    late = published["received_after_publish"]
    lines = [f"以上为第{published['revision']}次发布的数字（{published['published_at'][:16].replace('T', ' ')}）。"]
    if late:
        lines.append(f"发布后收到{len(late)}份报表，未计入，更正发布（rectify publish --revise）后计入：")
        lines += [f"  {late_label(r)}" for r in late]
    return lines
