"""A synthetic unit registry (组织机构名册): the real 31 provinces, generated
cities/counties/townships/villages under them, and central units by 类别.

Codes follow GB/T 2260 / 统计用区划代码 shapes: province ``xx0000``, city
``xxyy00``, county ``xxyyzz`` (6 digits), township 9 digits, village 12 digits.
Central units use category prefixes (``ZY``, ``JR``, ``QY``, ``GX``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from jobs.tooling.samples import banks

ROOT_CODE = "000000"
ROOT_NAME = "全国"


@dataclass(frozen=True, slots=True)
class Unit:
    """One registry row."""

    code: str
    name: str
    parent: str | None
    level: str
    category: str
    contact: str
    phone: str
    must_report: bool = True


def person_name(rng: random.Random) -> str:
    """A plausible Chinese personal name (2 or 3 characters)."""
    given = rng.choice(banks.GIVEN)
    if rng.random() < 0.7:
        given += rng.choice(banks.GIVEN)
    return rng.choice(banks.SURNAMES) + given


def phone_number(rng: random.Random, *, mobile: bool | None = None) -> str:
    """A landline (``010-6523xxxx``) or mobile number."""
    if mobile if mobile is not None else rng.random() < 0.4:
        return f"1{rng.choice('358')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"
    area = rng.choice(("010", "022", "021", "023", "0311", "0351", "0471", "024", "0431", "0451", "025", "0571",
                       "0551", "0591", "0791", "0531", "0371", "027", "0731", "020", "0771", "0898", "028", "0851",
                       "0871", "0891", "029", "0931", "0971", "0951", "0991"))
    return f"{area}-{rng.randint(2_000_0000, 8_999_9999) if len(area) == 3 else rng.randint(2_000_000, 8_999_999)}"


def _unique_name(rng: random.Random, used: set[str], make) -> str:  # noqa: ANN001 - callable
    for _ in range(200):
        name = make()
        if name not in used:
            used.add(name)
            return name
    # Exhausted the bank for this parent: disambiguate the way real registries do.
    base = make()
    n = 2
    while f"{base[:-1]}{n}{base[-1]}" in used:
        n += 1
    name = f"{base[:-1]}{n}{base[-1]}"
    used.add(name)
    return name


def _split(total: int, shares: tuple[float, ...]) -> list[int]:
    counts = [max(1, round(total * s)) for s in shares[:-1]] if total >= len(shares) else [0] * (len(shares) - 1)
    if total < len(shares):
        for i in range(min(total, len(shares) - 1)):
            counts[i] = 1
    rest = total - sum(counts)
    return [*counts, max(rest, 0)]


def build_registry(*, units: int, seed: int) -> list[Unit]:
    """Build a registry of about ``units`` reporting units, deterministically.

    Parameters
    ----------
    units
        Approximate number of units with 是否报送=是.
    seed
        Random seed; the same seed gives the same registry.
    """
    rng = random.Random(f"{seed}:registry")

    def contact() -> tuple[str, str]:
        return person_name(rng), phone_number(rng)

    out: list[Unit] = [Unit(ROOT_CODE, ROOT_NAME, None, "全国", "地方", *contact(), must_report=False)]
    provinces = [Unit(code, name, ROOT_CODE, "省级", "地方", *contact()) for code, name in banks.PROVINCES]
    rest = max(units - len(provinces), 0)
    n_central = max(4, round(rest * 0.08)) if rest else 0
    if rest >= 20:
        n_central = max(n_central, 6)  # one unit per 类别 plus a few subordinates
    # Keep a full chain 市 → 县 → 乡 → 村 even for small sets (the total is approximate).
    local = max(rest - n_central, min(rest, 4))
    n_city, n_county, n_town, n_village = _split(local, (0.04, 0.14, 0.30, 0.52))
    central = _central_units(rng, n_central, contact)

    children: dict[str, list[Unit]] = {}
    expand = rng.sample(provinces, k=min(len(provinces), max(1, -(-n_city // 4)))) if n_city else []
    levels = [("市级", n_city, 2), ("县级", n_county, 2), ("乡级", n_town, 3), ("村级", n_village, 3)]
    parents = expand
    for level, count, width in levels:
        if not parents or not count:
            break
        made: list[Unit] = []
        order = parents[:]
        rng.shuffle(order)
        for i in range(count):
            parent = order[i % len(order)]
            siblings = children.setdefault(parent.code, [])
            limit = 10**width - 1
            if len(siblings) >= limit:
                continue
            made.append(_child(rng, parent, level, len(siblings) + 1, width, siblings, contact))
            siblings.append(made[-1])
        parents = made

    # A few units the registry says need not report (是否报送=否): extra units
    # under the deepest non-village level that exists.
    made_by_level: dict[str, list[Unit]] = {"省级": expand or provinces}
    for kids in children.values():
        for kid in kids:
            made_by_level.setdefault(kid.level, []).append(kid)
    host_level = next(lv for lv in ("乡级", "县级", "市级", "省级") if made_by_level.get(lv))
    hosts = made_by_level[host_level]
    for i in range(max(2, round(units * 0.01))):
        parent = hosts[i % len(hosts)]
        level = _next_level(parent.level)
        siblings = children.setdefault(parent.code, [])
        width = 2 if level in ("市级", "县级") else 3
        unit = _child(rng, parent, level, len(siblings) + 1, width, siblings, contact)
        siblings.append(Unit(**{**_as_dict(unit), "must_report": False}))

    def walk(unit: Unit) -> None:
        out.append(unit)
        for child in children.get(unit.code, []):
            walk(child)

    for province in provinces:
        walk(province)
    out.extend(central)
    return out


def _as_dict(unit: Unit) -> dict:
    return {f: getattr(unit, f) for f in Unit.__slots__}


def _next_level(level: str) -> str:
    order = ("全国", "省级", "市级", "县级", "乡级", "村级")
    return order[min(order.index(level) + 1, len(order) - 1)]


def _child(rng, parent: Unit, level: str, index: int, width: int, siblings, contact) -> Unit:  # noqa: ANN001
    used = {s.name for s in siblings}
    if level == "市级":
        code = f"{parent.code[:2]}{index:02d}00"
        name = _unique_name(rng, used, lambda: rng.choice(banks.CITY_A) + rng.choice(banks.CITY_B) + "市")
    elif level == "县级":
        code = f"{parent.code[:4]}{index:02d}"
        name = _unique_name(
            rng, used, lambda: rng.choice(banks.COUNTY_A) + rng.choice(banks.COUNTY_B) + rng.choice("县县县区")
        )
    elif level == "乡级":
        code = f"{parent.code[:6]}{index:03d}"
        name = _unique_name(
            rng, used, lambda: rng.choice(banks.TOWN_A) + rng.choice(banks.TOWN_B) + rng.choice(("镇", "镇", "乡", "街道"))
        )
    else:
        code = f"{parent.code[:9]}{index:03d}"
        name = _unique_name(rng, used, lambda: _village_name(rng))
    return Unit(code, name, parent.code, level, parent.category, *contact())


def _village_name(rng: random.Random) -> str:
    if rng.random() < 0.5:
        stem = rng.choice(banks.SURNAMES) + rng.choice(("家", "家", "")) + rng.choice(banks.VILLAGE_B)
    else:
        stem = rng.choice(banks.VILLAGE_A) + rng.choice(banks.VILLAGE_B)
    return stem + ("社区" if rng.random() < 0.15 else "村")


def _central_units(rng: random.Random, count: int, contact) -> list[Unit]:  # noqa: ANN001
    if not count:
        return []
    cats = list(banks.CENTRAL)
    bank_total = sum(len(v[1]) for v in banks.CENTRAL.values())
    n_top = max(len(cats), min(bank_total, count // 4 or 1))
    tops: list[Unit] = []
    picks = {cat: rng.sample(names, k=len(names)) for cat, (_prefix, names) in banks.CENTRAL.items()}
    for i in range(n_top):
        cat = cats[i % len(cats)]
        prefix, _names = banks.CENTRAL[cat]
        k = i // len(cats)
        if k >= len(picks[cat]):
            continue
        tops.append(Unit(f"{prefix}{k + 1:03d}", picks[cat][k], ROOT_CODE, "省级", cat, *contact()))
    out: list[Unit] = []
    subs: dict[str, list[Unit]] = {t.code: [] for t in tops}
    for i in range(max(count - len(tops), 0)):
        top = tops[i % len(tops)]
        siblings = subs[top.code]
        used = {s.name for s in siblings}
        suffixes = banks.CENTRAL_SUB[top.category]
        name = _unique_name(
            rng,
            used,
            lambda: top.name + rng.choice(banks.PROVINCES)[1].removesuffix("省").removesuffix("市") + rng.choice(suffixes),
        )
        siblings.append(Unit(f"{top.code}{len(siblings) + 1:03d}", name, top.code, "市级", top.category, *contact()))
    for top in tops:
        out.append(top)
        out.extend(subs[top.code])
    return out


def write_registry(units: list[Unit], path: Path, *, sheet: str, headers: tuple[str, ...]) -> Path:
    """Write the registry workbook (xlsxwriter) with the spec's columns."""
    import datetime as dt

    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"in_memory": True, "strings_to_numbers": False})
    wb.set_properties({"created": dt.datetime(2015, 1, 1)})
    ws = wb.add_worksheet(sheet)
    bold = wb.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1})
    for c, h in enumerate(headers):
        ws.write_string(0, c, h, bold)
    for r, u in enumerate(units, start=1):
        values = (u.code, u.name, u.parent or "", u.level, u.category, u.contact, u.phone, "是" if u.must_report else "否")
        for c, v in enumerate(values):
            ws.write_string(r, c, v)
    for c, w in enumerate((14, 36, 14, 8, 16, 10, 16, 8)):
        ws.set_column(c, c, w)
    ws.freeze_panes(1, 0)
    wb.close()
    return path
