"""Realistic, correct return content for one unit and period.

Content is keyed by the schema's English column keys. Everything is derived
from ``(seed, unit code)`` (the unit's plan, identical in every period) and
``(seed, unit code, period index)`` (this month's progress), so any period can
be generated on its own, in any process, with the same result.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from jobs.tooling.samples import banks
from jobs.tooling.samples.registry import Unit, person_name

SATISFIED = ("满意", "基本满意")


@dataclass
class ReturnData:
    """One return's content: key/value sheets as dicts, table sheets as row lists."""

    unit: str
    period: str
    kv: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Defects remove whole sheets or columns; the writer leaves them out.
    omit_sheets: set[str] = field(default_factory=set)
    omit_columns: dict[str, set[str]] = field(default_factory=dict)


def month_start(period: str, offset: int = 0) -> dt.date:
    """First day of ``period`` (``YYYY-MM``) shifted by ``offset`` months."""
    year, month = (int(x) for x in period.split("-"))
    index = year * 12 + month - 1 + offset
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(period: str) -> dt.date:
    """Last day of ``period``."""
    start = month_start(period)
    return start.replace(day=calendar.monthrange(start.year, start.month)[1])


def _rng(seed: int, *parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in (seed, *parts)))


@dataclass(frozen=True)
class _Member:
    name: str
    title: str
    problem: int
    done_at: int


@dataclass(frozen=True)
class _Item:
    seq: int
    topic: int
    source: str
    appear_at: int
    done_at: int | None
    rebound_at: int | None
    closes: bool
    evaluation: str
    deadline: dt.date
    leader: int
    numbers: tuple[int, ...]
    office: str
    program: str
    people: str


@dataclass(frozen=True)
class _Plan:
    members: tuple[_Member, ...]
    items: tuple[_Item, ...]
    roles: tuple[str, ...]
    found: tuple[int, ...]
    cases: tuple[int, ...]
    institutions: tuple[tuple[str, str, int | None, int], ...]


# A village does not spend 300万元 on receptions: magnitudes shrink down the levels.
_SCALE = {"省级": 1.0, "市级": 0.5, "县级": 0.25, "乡级": 0.1, "村级": 0.04}


def _numbers(rng: random.Random, unit: Unit) -> tuple[int, ...]:
    scale = 1.0 if unit.category != "地方" else _SCALE.get(unit.level, 1.0)
    n1, n2 = rng.randint(3, 60), rng.randint(10, 500)
    n3, n4 = rng.randint(2, 30), rng.randint(1, 20)
    if scale < 1:
        n3, n4 = rng.randint(1, 8), rng.randint(1, 5)
    n1 = max(2, round(n1 * scale))
    # Parts never exceed the whole (“核实2户，兑付3户” reads wrong).
    return (n1, max(3, round(n2 * scale)), min(n3, n1), min(n4, n1), rng.randint(10, 60))


def _plan(unit: Unit, periods: tuple[str, ...], seed: int) -> _Plan:
    rng = _rng(seed, unit.code, "plan")
    titles = banks.TITLES.get(unit.category if unit.category != "地方" else unit.level, banks.TITLES["县级"])
    n_members = rng.randint(3, min(4, len(titles)))
    names: list[str] = []
    while len(names) < n_members:
        name = person_name(rng)
        if name not in names and name != unit.contact:
            names.append(name)
    members = tuple(
        _Member(n, titles[i], rng.randrange(len(banks.PERSONAL_PROBLEMS)), rng.choice((-1, 0, 0, 1, 2)))
        for i, n in enumerate(names)
    )
    n_periods = len(periods)
    n_base = rng.randint(3, 6)
    topics = rng.sample(range(len(banks.TOPICS)), k=min(len(banks.TOPICS), n_base + 3))
    appear = [0] * n_base
    for p in range(1, n_periods):
        if rng.random() < 0.5:
            appear += [p] * rng.randint(1, 2)
    first = month_start(periods[0])
    items = []
    for seq, (topic, appear_at) in enumerate(zip(topics, appear, strict=False), start=1):
        done_at = rng.choice((-1, 0, 0, 1, 1, 2, 3, None, None)) if appear_at == 0 else rng.choice((appear_at, None))
        if done_at is not None and done_at < appear_at:
            done_at = appear_at if appear_at else done_at
        evaluation = rng.choice(("满意", "满意", "基本满意", "基本满意", "不满意", "未评价"))
        closes = evaluation in SATISFIED and rng.random() < 0.8
        rebound_at = None
        if done_at is not None and closes and done_at + 1 < n_periods and rng.random() < 0.15:
            rebound_at = max(done_at + 1, 1)
        source = "回头看新发现" if appear_at > 0 else rng.choice(("查摆问题", "查摆问题", "群众反映", "督导指出", "上下联动"))
        leader = rng.randrange(len(members))
        handled = person_name(rng)
        people = rng.choice((
            "责任领导{leader}牵头，{office}负责人{h}具体落实",
            "{leader}负总责，对{h}等{k}名干部进行了约谈提醒",
            "责任人{leader}；对直接责任人{h}给予诫勉谈话",
            "分管领导{leader}督办，经办人{h}作出书面检查",
        )).format(leader=members[leader].name, h=handled, k=rng.randint(2, 6), office=rng.choice(banks.OFFICES))
        items.append(_Item(
            seq=seq, topic=topic, source=source, appear_at=appear_at, done_at=done_at, rebound_at=rebound_at,
            closes=closes, evaluation=evaluation, deadline=first + dt.timedelta(days=rng.randint(-45, 120)),
            leader=leader, numbers=_numbers(rng, unit),
            office=rng.choice(banks.OFFICES), program=rng.choice(banks.PROGRAMS), people=people,
        ))
    roles = tuple(rng.choice(("牵头", "参与", "参与", "不涉及")) for _ in range(21))
    found = tuple(0 if r == "不涉及" else rng.randint(0, 25) for r in roles)
    cases = tuple(min(f, rng.choice((0, 0, 0, 1, 2, 3))) for f in found)
    picks = rng.sample(banks.INSTITUTIONS, k=rng.randint(2, 4))
    institutions = tuple(
        (title, rng.choice(("承接中央", "新建", "新建", "修订")), rng.choice((-1, 0, 1, 2, None)), rng.randint(3, 98))
        for title in picks
    )
    return _Plan(members, tuple(items), roles, found, cases, institutions)


def _day_in(period: str, offset: int, rng: random.Random) -> dt.date:
    # Completion and issue dates fall on days 1-15, before any 填报日期 of that month.
    return month_start(period, offset) + dt.timedelta(days=rng.randint(0, 14))


def build_return(
    unit: Unit,
    *,
    place: str,
    periods: tuple[str, ...],
    index: int,
    filled_on: dt.date,
    seed: int,
) -> ReturnData:
    """The correct content of ``unit``'s return for ``periods[index]``.

    Parameters
    ----------
    place
        How the unit names itself in texts (e.g. ``永安镇红星村``).
    filled_on
        填报日期; completion dates of items done this month are on or before the 15th.
    """
    plan = _plan(unit, periods, seed)
    period = periods[index]
    rng = _rng(seed, unit.code, "period", index)
    principal = plan.members[0].name
    data = ReturnData(unit=unit.code, period=period)
    data.kv["info"] = {
        "unit_code": unit.code,
        "unit_name": unit.name,
        "period": period,
        "report_type": "本级",
        "principal": principal,
        "filled_by": unit.contact,
        "phone": unit.phone,
        "filled_on": filled_on,
    }
    data.tables["ledger"] = [_ledger_row(item, plan, unit, place, periods, index, seed) for item in plan.items
                             if item.appear_at <= index]
    data.tables["tasks"] = _task_rows(plan, rng, index)
    data.tables["institutions"] = _institution_rows(plan, unit, periods, index, seed)
    data.kv["accountability"] = _accountability(unit, index, seed)
    data.tables["members"] = [_member_row(m, unit, place, index, seed) for m in plan.members]
    return data


def _accountability(unit: Unit, index: int, seed: int) -> dict[str, int]:
    """责任追究 counts are cumulative (累计数, spec): a base and the same monthly increment for every period."""
    rng = _rng(seed, unit.code, "accountability")
    keys = ("talks", "admonitions", "liable_persons", "liable_leaders", "exposed_cases", "redo_units")
    bounds = ((0, 12), (0, 5), (0, 4), (0, 2), (0, 3), (0, 1))
    return {key: rng.randint(lo, hi) + index * rng.randint(0, max(1, hi // 4))
            for key, (lo, hi) in zip(keys, bounds, strict=True)}  # fmt: skip


def _ledger_row(item: _Item, plan: _Plan, unit: Unit, place: str, periods, index: int, seed: int) -> dict[str, Any]:  # noqa: ANN001, PLR0913
    rng = _rng(seed, unit.code, "item", item.seq, index)
    category, problem, measure, facts_done, facts_doing, root_key = banks.TOPICS[item.topic]
    n1, n2, n3, n4, p = item.numbers
    fields = {"u": place, "n1": n1, "n2": n2, "n3": n3, "n4": n4, "p": p, "y": int(periods[0][:4]) - 1,
              "office": item.office, "program": item.program}
    rebounded = item.rebound_at is not None and index >= item.rebound_at
    done = item.done_at is not None and item.done_at <= index and not rebounded
    done_on = None
    if done:
        done_on = _day_in(periods[0], item.done_at, _rng(seed, unit.code, "done", item.seq))
        status = "已完成"
        evaluation = item.evaluation
        closed = "是" if item.closes else "否"
        facts = facts_done.format(**fields)
    else:
        status = "效果不理想" if rebounded else rng.choice(("推进中", "推进中", "推进中", "未启动" if index == item.appear_at else "推进中"))
        evaluation = "不满意" if rebounded else rng.choice(("未评价", "未评价", "基本满意", "不满意"))
        closed = "否"
        facts = facts_doing.format(**fields)
        if rebounded:
            facts = f"{facts}；回头看发现问题有所反弹，已重新列入整改"
    mindset = (
        f"{place}{rng.choice(('班子', '党委（党组）', '领导班子'))}认识到，{banks.ROOTS[root_key]}是问题的思想根源；"
        f"{rng.choice(banks.LESSONS)}，本月组织专题学习讨论{rng.randint(1, 6)}次"
    )
    return {
        "seq": item.seq,
        "source": item.source,
        "category": category,
        "problem": problem.format(**fields),
        "measure": measure,
        "leader": plan.members[item.leader].name,
        "deadline": item.deadline,
        "status": status,
        "done_on": done_on,
        "people": item.people,
        "facts": facts,
        "mindset": mindset,
        "evaluation": evaluation,
        "closed": closed,
    }


def _task_rows(plan: _Plan, rng: random.Random, index: int) -> list[dict[str, Any]]:
    from jobs.core.schema import load_schema

    rows = []
    for no, name in sorted(load_schema().tasks.items()):
        i = (no - 1) % len(plan.roles)
        role, found, cases = plan.roles[i], plan.found[i], plan.cases[i]
        fixed = min(found, round(found * min(1.0, 0.4 + 0.3 * index + rng.random() * 0.2)))
        progress = None
        if role != "不涉及":
            progress = rng.choice(banks.PROGRESS).format(n1=found, n2=fixed, n3=rng.randint(1, 9), n4=cases)
        elif rng.random() < 0.3:
            progress = "本单位不涉及该项任务"
        rows.append({"task_no": no, "task_name": name, "role": role, "found": found, "fixed": fixed,
                     "cases": cases, "progress": progress})
    return rows


def _institution_rows(plan: _Plan, unit: Unit, periods, index: int, seed: int) -> list[dict[str, Any]]:  # noqa: ANN001
    rows = []
    abbr = unit.name[:2]
    for k, (title, kind, issued_at, number) in enumerate(plan.institutions):
        issued = issued_at is not None and issued_at <= index
        state = "已出台" if issued else ("起草中" if issued_at is not None else "计划中")
        issued_on = _day_in(periods[0], issued_at, _rng(seed, unit.code, "inst", k)) if issued else None
        doc_no = f"{abbr}发〔{issued_on.year}〕{number}号" if issued_on else None
        rows.append({"title": title, "kind": kind, "state": state, "issued_on": issued_on, "doc_no": doc_no})
    return rows


def _member_row(member: _Member, unit: Unit, place: str, index: int, seed: int) -> dict[str, Any]:
    rng = _rng(seed, unit.code, "member", member.name, index)
    problem, measure, facts = banks.PERSONAL_PROBLEMS[member.problem]
    nums = {"n1": rng.randint(3, 9) * 100 if "字" in measure else rng.randint(3, 12),
            "n2": rng.randint(2, 30), "n3": rng.randint(1, 15)}
    state = "已落实" if member.done_at <= index else ("落实中" if index or rng.random() < 0.8 else "未落实")
    return {
        "member": member.name,
        "title": member.title,
        "problem": problem,
        "measure": measure.format(**nums),
        "state": state,
        "facts": f"{member.name}同志在{place}{facts.format(**nums)}",
        "mindset": f"{member.name}同志对照检查，{rng.choice(banks.LESSONS)}，在{place}班子中带头改",
    }
