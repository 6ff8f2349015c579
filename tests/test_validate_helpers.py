"""Builders for validation tests: a correct return as data, mutations, and the workbook writer.

Every sheet has its header on Excel row 1 and data from row 2, so the cell a
finding must point at is known exactly (``cell_of``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl

from jobs.core.findings import column_letter
from jobs.core.schema import load_schema

Spec = dict[str, list[list[Any]]]  # sheet name -> rows (first row = header)


def base_return(unit: str = "110000", name: str = "北京市", period: str = "2015-02", *, seed: int = 0) -> Spec:
    """A correct 本级 return: 3 ledger items, 21 tasks, 2 rules, 6 accountability rows, 2 members."""
    schema = load_schema()
    tag = f"{unit}-{seed}"
    info = [["项目", "内容"], ["单位代码", unit], ["单位名称", name], ["报送期", period], ["报表类型", "本级"],
            ["主要负责人", "张建国"], ["填报人", "李明"], ["联系电话", "010-12345678"],
            ["填报日期", dt.date(2015, 2, 20)]]
    ledger = [[c.name for c in schema.sheet("ledger").columns]]
    statuses = [("已完成", dt.date(2015, 1, 30), "满意", "是"), ("推进中", None, "未评价", "否"),
                ("已完成", dt.date(2015, 2, 10), "基本满意", "否")]
    for i, (status, done, evaluation, closed) in enumerate(statuses, start=1):
        ledger.append([
            i, "查摆问题", "形式主义", f"第{i}项问题：会议过多过长（{tag}）", f"压缩会议数量第{i}项措施（{tag}）",
            "王强", dt.date(2015, 3, 31), status, done, f"责任人王强；处理科员赵{i}",
            f"单位{tag}第{i}项：全年会议由120次压减到{60 + i}次，节约经费{i}万元。",
            f"单位{tag}第{i}项：根源在于宗旨意识淡薄，通过整改深刻认识到文山会海的危害。",
            evaluation, closed,
        ])
    tasks = [[c.name for c in schema.sheet("tasks").columns]]
    for no, title in schema.tasks.items():
        tasks.append([no, title, "牵头" if no % 3 else "不涉及", 0 if no % 3 == 0 else 5, 0 if no % 3 == 0 else 3,
                      0 if no % 3 == 0 else 1, None if no % 3 == 0 else f"已开展排查{no}次"])
    institutions = [[c.name for c in schema.sheet("institutions").columns],
                    ["会议管理办法", "新建", "已出台", dt.date(2015, 1, 5), "京办发〔2015〕1号"],
                    ["公务接待规定", "修订", "起草中", None, None]]
    accountability = [["事项", "数量"], *[[name, i] for i, name in enumerate(schema.accountability_rows)]]
    members = [[c.name for c in schema.sheet("members").columns]]
    for i, (person, title) in enumerate([("张建国", "书记"), ("王强", "副书记")], start=1):
        members.append([person, title, f"{person}查摆：调查研究不够深入（{tag}）", "每月下基层不少于4天", "已落实",
                        f"{person}（{tag}）全年下基层调研{20 + i}天，解决实际问题{i}件。",
                        f"{person}（{tag}）认识到脱离群众的危害，树立了正确的政绩观和群众观。"])
    return {"基本信息": info, "整改台账": ledger, "专项整治": tasks, "制度建设": institutions,
            "责任追究": accountability, "个人整改": members}


def find_row(spec: Spec, sheet: str, column: str, value: Any) -> int:
    """Excel row of the first data row whose ``column`` equals ``value``."""
    header = spec[sheet][0]
    j = header.index(column)
    for i, row in enumerate(spec[sheet][1:], start=2):
        if row[j] == value:
            return i
    raise KeyError((sheet, column, value))


def cell_of(spec: Spec, sheet: str, row: int, column: str) -> str:
    """A1 cell of ``column`` (a header, or a 基本信息/责任追究 item's value) on Excel ``row``."""
    header = spec[sheet][0]
    j = header.index(column) if column in header else 1
    return f"{sheet}!{column_letter(j)}{row}"


def set_cell(spec: Spec, sheet: str, row: int, column: str, value: Any) -> str:
    """Set a table cell (Excel ``row``) and return its A1 cell."""
    spec[sheet][row - 1][spec[sheet][0].index(column)] = value
    return cell_of(spec, sheet, row, column)


def set_item(spec: Spec, sheet: str, item: str, value: Any) -> str:
    """Set a 基本信息/责任追究 item's value and return its A1 cell."""
    for i, row in enumerate(spec[sheet]):
        if row[0] == item:
            row[1] = value
            return f"{sheet}!B{i + 1}"
    raise KeyError(item)


def drop_item(spec: Spec, sheet: str, item: str) -> None:
    spec[sheet] = [r for r in spec[sheet] if r[0] != item]


def drop_column(spec: Spec, sheet: str, column: str) -> None:
    j = spec[sheet][0].index(column)
    spec[sheet] = [r[:j] + r[j + 1:] for r in spec[sheet]]


def write_return(spec: Spec, path: Path) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in spec.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def registry_frame(units: list[tuple[str, str]] | None = None, *, not_required: tuple[str, ...] = ()) -> pl.DataFrame:
    """A small registry: the root plus ``units`` (code, name) as provinces."""
    units = units or [("110000", "北京市"), ("120000", "天津市"), ("130000", "河北省")]
    rows = [("000000", "全国", None, "全国", "地方", None, None, False)]
    rows += [(code, name, "000000", "省级", "地方", "联系人", "010-1", code not in not_required) for code, name in units]
    return pl.DataFrame(rows, schema={"code": pl.Utf8, "name": pl.Utf8, "parent": pl.Utf8, "level": pl.Utf8,
                                      "category": pl.Utf8, "contact": pl.Utf8, "phone": pl.Utf8,
                                      "must_report": pl.Boolean}, orient="row")


ARRIVAL = dt.datetime(2015, 2, 27, 10, 0)
