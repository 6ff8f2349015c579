"""The office's configuration (``config.toml``) as typed objects, with its one set of defaults.

Every section is a frozen dataclass whose field defaults *are* the defaults:
``rectify init`` writes ``Config().to_dict()``, and a key absent from the file
takes the field's default. :meth:`Config.from_dict` checks every value and
raises :class:`ConfigError` naming the file, the key, the bad value and what
is allowed (Chinese), so a mistake stops the command at load, never later as
a traceback or a nonsense figure.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobs.core.errors import RectifyError

CONFIG_NAME = "config.toml"
DEFAULT_TIMEZONE = "Asia/Shanghai"
ReceiptFormat = Literal["xlsx", "html"]
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_T = TypeVar("_T")


class ConfigError(RectifyError):
    """A wrong value or key in ``config.toml`` (Chinese message naming file, key, value, what is allowed)."""


@dataclass(frozen=True, slots=True)
class _Rule:
    """What a numeric setting allows: an integer or any number, above (or from) ``low``, up to ``high``."""

    integer: bool = False
    low: float = 0
    low_inclusive: bool = False
    high: float | None = None

    def allowed(self) -> str:
        kind = "整数" if self.integer else "数"
        low = f"大于等于{self.low:g}" if self.low_inclusive else f"大于{self.low:g}"
        high = f"且小于等于{self.high:g}" if self.high is not None else ""
        return f"{low}{high}的{kind}"

    def accepts(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and not float(value).is_integer():
            return False
        above = value >= self.low if self.low_inclusive else value > self.low
        return above and (self.high is None or value <= self.high)


_POSITIVE = _Rule()
_COUNT = _Rule(integer=True, low=1, low_inclusive=True)
_SECONDS = _Rule(low=0, low_inclusive=True)
_FRACTION = _Rule(low=0, high=1)
_STATED_COUNT = _Rule(integer=True, low=1, low_inclusive=True, high=2**63 - 1)  # a count must fit Int64


@dataclass(frozen=True, slots=True)
class Limits:
    """``[limits]``: bounds on received files (sizes in MB), on a stated count, and the intake's own settings.

    Ratios are checked only for entries (and the whole zip) larger than
    ``ratio_floor_mb``: tiny parts compress extremely well.
    """

    max_file_mb: float = field(default=20.0, metadata={"rule": _POSITIVE})
    max_uncompressed_mb: float = field(default=300.0, metadata={"rule": _POSITIVE})
    max_ratio: float = field(default=200.0, metadata={"rule": _POSITIVE})
    ratio_floor_mb: float = field(default=1.0, metadata={"rule": _POSITIVE})
    max_entries: int = field(default=2000, metadata={"rule": _COUNT})
    # max_rows bounds a sheet's structure (beyond any real sheet: a hostile file);
    # max_rows_per_sheet is the office's cap on what one return may hold: the
    # reader's memory grows with rows (~8 KB a row: a 99,000-row return peaked at
    # 827 MB). A unit's ledger lists its plan's items, tens to hundreds; 5000 rows
    # leave ten times the largest real ledger and keep a return near 100 MB.
    max_rows: int = field(default=100_000, metadata={"rule": _COUNT})
    max_rows_per_sheet: int = field(default=5_000, metadata={"rule": _COUNT})
    # findings kept per verdict (in place order; one more-findings line counts the rest): a
    # unit fixes the first 200 before the rest matter, and 4 broken returns held 792k findings
    max_findings_per_return: int = field(default=200, metadata={"rule": _COUNT})
    max_columns: int = field(default=1_000, metadata={"rule": _COUNT})
    max_cells: int = field(default=5_000_000, metadata={"rule": _COUNT})
    max_cell_chars: int = field(default=32_767, metadata={"rule": _COUNT})
    # the largest count a return may state (rows above it are ``bad-number``): ten million of
    # anything is far beyond one unit's month, and 2**63 / 10**7 returns keep every sum in Int64
    max_count: int = field(default=10_000_000, metadata={"rule": _STATED_COUNT})
    # GX costs ~0.6 s CPU per run: 1000 files per batch halve that per file vs 500, memory +4 % (measured)
    batch_size: int = field(default=1000, metadata={"rule": _COUNT})
    # a batch also ends at this many MB of received files: memory follows content, not file counts.
    # A typical return is ~10 KB (~390 fit in 4 MB: GX's ~0.6 s a batch stays ~1.5 ms a file); one at
    # the rows cap ~0.3 MB: 13 of them in one 4 MB batch peaked at 740 MB, 27 at 8 MB at 1.46 GB
    # (bench/bench_memory.py)
    batch_mb: float = field(default=4.0, metadata={"rule": _POSITIVE})
    lock_timeout_seconds: float = field(default=600.0, metadata={"rule": _SECONDS})
    watch_settle_seconds: float = field(default=0.5, metadata={"rule": _SECONDS})
    # a settled file that still does not open as a workbook (a copy paused, not finished) is
    # judged only after this long unchanged: a broken file still gets its verdict
    watch_incomplete_seconds: float = field(default=60.0, metadata={"rule": _SECONDS})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, source: str | Path | None = None) -> Limits:
        """Limits from a ``[limits]`` table; absent keys keep their defaults.

        Raises
        ------
        ConfigError
            An unknown key or a value out of range.
        """
        return _section(cls, data, table="limits", source=source)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """``[thresholds]``: the figures that put a unit on the attention list (see :class:`Accountability`).

    Rates are fractions in (0, 1] (0.6 means 60 %); a unit whose rate is null
    (nothing to rate) is never listed for that rate. A rate below its
    threshold, or overdue items or rejections at their count, earn 约谈提醒;
    rebound items at their count earn 追责问责.
    """

    # 约谈提醒 below these rates or at these counts; the defaults single out the units far behind
    # (at 60 % / 80 % and one overdue item, 24 of the samples' 25 reporting units were listed)
    completion_rate: float = field(default=0.4, metadata={"rule": _FRACTION})
    satisfaction_rate: float = field(default=0.5, metadata={"rule": _FRACTION})
    rejections: int = field(default=2, metadata={"rule": _COUNT})
    overdue_items: int = field(default=3, metadata={"rule": _COUNT})
    # 追责问责 at this many rebound items
    rebound_items: int = field(default=1, metadata={"rule": _COUNT})
    # history warnings (problems vanished, deadlines postponed, counts fallen ...) the unit did not explain
    unexplained_warnings: int = field(default=1, metadata={"rule": _COUNT})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, source: str | Path | None = None) -> Thresholds:
        """Thresholds from a ``[thresholds]`` table; absent keys keep their defaults (raises :class:`ConfigError`)."""
        return _section(cls, data, table="thresholds", source=source)


_Z_SCORE = _Rule(low=0)
_MIN_PEERS = _Rule(integer=True, low=2, low_inclusive=True)


@dataclass(frozen=True, slots=True)
class History:
    """``[history]``: reading a return against the unit's earlier returns and its peers (issue 17).

    ``stalled_periods``: an item 未启动 this many consecutive returns in all is
    ``stalled-item``. ``outlier_z``: the modified z-score at or above which an
    increment (or a rate among peers) is an ``outlier``; ``outlier_history``:
    the earlier increments a unit needs before its own are scored;
    ``outlier_peers``: the peers (same 层级 and 类别, same period) a rate needs.
    """

    stalled_periods: int = field(default=3, metadata={"rule": _COUNT})
    outlier_z: float = field(default=3.5, metadata={"rule": _Z_SCORE})
    outlier_history: int = field(default=4, metadata={"rule": _MIN_PEERS})
    outlier_peers: int = field(default=8, metadata={"rule": _MIN_PEERS})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, source: str | Path | None = None) -> History:
        """History settings from a ``[history]`` table; absent keys keep their defaults (raises :class:`ConfigError`)."""
        return _section(cls, data, table="history", source=source)


@dataclass(frozen=True, slots=True)
class Accountability:
    """``[accountability]``: the graded steps beyond the figures of :class:`Thresholds`.

    约谈提醒 at ``stalled_items`` unexplained ``stalled-item`` or
    ``postponed_items`` unexplained ``deadline-postponed`` findings; 诫勉批评
    when more than ``thin_share`` of a unit's items have a ``too-thin`` or
    ``copied-text`` 见人见物见思想, or at ``uniform_figures`` unexplained
    ``uniform-figures`` findings; 追责问责 for a second consecutive 诫勉批评
    (and rebound items, :class:`Thresholds`). ``supervision_days``: the new
    deadline a 督办通知单 sets.
    """

    stalled_items: int = field(default=1, metadata={"rule": _COUNT})
    postponed_items: int = field(default=1, metadata={"rule": _COUNT})
    thin_share: float = field(default=0.3, metadata={"rule": _FRACTION})
    uniform_figures: int = field(default=1, metadata={"rule": _COUNT})
    supervision_days: int = field(default=30, metadata={"rule": _COUNT})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, source: str | Path | None = None) -> Accountability:
        """The ``[accountability]`` table; absent keys keep their defaults (raises :class:`ConfigError`)."""
        return _section(cls, data, table="accountability", source=source)


@dataclass(frozen=True, slots=True)
class Letterhead:
    """``[letterhead]``: the office's 红头 on the 通报 and 督办通知单 (GB/T 9704).

    ``issuer`` is the 发文机关标志 (printed in red with 文件), ``number_prefix``
    the 发文字号's 机关代字 (``群教办〔2015〕2号``), ``addressee`` the 主送机关,
    ``signer`` the 署名, ``copy_to`` the 版记's 抄送 and ``printed_by`` its 印发机关.
    """

    issuer: str = "党的群众路线教育实践活动领导小组办公室"
    number_prefix: str = "群教办"
    addressee: str = "各省、自治区、直辖市和新疆生产建设兵团教育实践活动领导小组办公室，中央和国家机关各部门教育实践活动领导小组办公室"
    signer: str = "党的群众路线教育实践活动领导小组办公室"
    copy_to: str = "中央党的群众路线教育实践活动领导小组成员"
    printed_by: str = "党的群众路线教育实践活动领导小组办公室秘书组"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, source: str | Path | None = None) -> Letterhead:
        """The ``[letterhead]`` table; absent keys keep their defaults (raises :class:`ConfigError`)."""
        return _section(cls, data, table="letterhead", source=source)


@dataclass(frozen=True, slots=True)
class Paths:
    """``[paths]``: the home's sub-directories (relative to the home)."""

    store: str = "store"
    outbox: str = "outbox"
    registry: str = "registry"


@dataclass(frozen=True, slots=True)
class Receipts:
    """``[receipts]``: the format of the receipts written to the outbox."""

    format: ReceiptFormat = "xlsx"


@dataclass(frozen=True)
class Config:
    """The parsed, checked ``config.toml``; deadlines are naive local times per period."""

    timezone: str = DEFAULT_TIMEZONE
    deadlines: Mapping[str, datetime] = field(default_factory=dict)
    thresholds: Thresholds = Thresholds()
    accountability: Accountability = Accountability()
    letterhead: Letterhead = Letterhead()
    limits: Limits = Limits()
    history: History = History()
    paths: Paths = Paths()
    receipts: Receipts = Receipts()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | Path | None = None) -> Config:
        """Build and check a config from parsed TOML (defaults fill what is absent).

        ``source`` is the file, named in error messages.

        Raises
        ------
        ConfigError
            An unknown key, or a value of the wrong type or out of range.
        """
        where = _where(source)
        known = {"timezone", "thresholds", "accountability", "letterhead", "limits", "history", "paths", "receipts",
                 "periods"}
        _no_unknown(data, known, table=None, where=where)
        for table in known - {"timezone"}:
            if table in data and not isinstance(data[table], Mapping):
                msg = f"{where}中的“{table}”应为表（[{table}]），现为{_shown(data[table])}。"
                raise ConfigError(msg)
        return cls(
            timezone=_timezone(data.get("timezone", DEFAULT_TIMEZONE), where=where),
            deadlines=_deadlines(data.get("periods") or {}, where=where),
            thresholds=Thresholds.from_mapping(data.get("thresholds"), source=source),
            accountability=Accountability.from_mapping(data.get("accountability"), source=source),
            letterhead=Letterhead.from_mapping(data.get("letterhead"), source=source),
            limits=Limits.from_mapping(data.get("limits"), source=source),
            history=History.from_mapping(data.get("history"), source=source),
            paths=_section(Paths, data.get("paths"), table="paths", source=source),
            receipts=_section(Receipts, data.get("receipts"), table="receipts", source=source),
        )

    def to_dict(self) -> dict[str, Any]:
        """The config as TOML-ready tables (every setting, so the file shows what can be set)."""
        return {
            "timezone": self.timezone,
            "thresholds": dataclasses.asdict(self.thresholds),
            "accountability": dataclasses.asdict(self.accountability),
            "letterhead": dataclasses.asdict(self.letterhead),
            "limits": dataclasses.asdict(self.limits),
            "history": dataclasses.asdict(self.history),
            "paths": dataclasses.asdict(self.paths),
            "receipts": dataclasses.asdict(self.receipts),
            "periods": {p: {"deadline": d} for p, d in sorted(self.deadlines.items())},
        }


def _where(source: str | Path | None) -> str:
    return f"配置文件“{source}”" if source is not None else f"配置文件{CONFIG_NAME}"


def _shown(value: object) -> str:
    if isinstance(value, str):
        return f"“{value}”"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if not isinstance(value, Mapping) else "表"


def _no_unknown(data: Mapping[str, Any], known: set[str], *, table: str | None, where: str) -> None:
    # A misspelt key silently ignored would leave the office running on a default it meant to change.
    for key in data:
        if key not in known:
            name = f"[{table}] {key}" if table else key
            allowed = "、".join(sorted(known))
            msg = f"{where}中的键“{name}”无法识别，允许的键：{allowed}。"
            raise ConfigError(msg)


def _section(cls: type[_T], data: Mapping[str, Any] | None, *, table: str, source: str | Path | None) -> _T:
    """One table as ``cls``: every value checked against its field's rule or ``Literal`` choices."""
    where = _where(source)
    if not data:
        return cls()
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    _no_unknown(data, set(fields), table=table, where=where)
    values: dict[str, Any] = {}
    for key, value in data.items():
        spec = fields[key]
        rule: _Rule | None = spec.metadata.get("rule")
        choices = get_args(ReceiptFormat) if spec.type in ("ReceiptFormat", ReceiptFormat) else None
        if rule is not None:
            if not rule.accepts(value):
                msg = f"{where}中 [{table}] {key} = {_shown(value)} 不对：应为{rule.allowed()}，例如 {spec.default!r}。"
                raise ConfigError(msg)
            values[key] = int(value) if rule.integer else float(value)
        elif choices is not None:
            if value not in choices:
                msg = f"{where}中 [{table}] {key} = {_shown(value)} 不对：应为{'或'.join(choices)}。"
                raise ConfigError(msg)
            values[key] = value
        else:
            if not isinstance(value, str) or not value.strip():
                msg = f"{where}中 [{table}] {key} = {_shown(value)} 不对：应为非空文本，例如 “{spec.default}”。"
                raise ConfigError(msg)
            values[key] = value
    return cls(**values)


def _timezone(value: object, *, where: str) -> str:
    try:
        if not isinstance(value, str):
            raise ValueError
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"{where}中 timezone = {_shown(value)} 无法识别：应为IANA时区名，例如 “{DEFAULT_TIMEZONE}”。"
        raise ConfigError(msg) from None
    return value


def _deadlines(periods: Mapping[str, Any], *, where: str) -> dict[str, datetime]:
    deadlines: dict[str, datetime] = {}
    for period, spec in periods.items():
        if not _PERIOD.match(period):
            msg = f"{where}中的报送期“[periods.\"{period}\"]”格式不对：应为YYYY-MM，例如2015-02。"
            raise ConfigError(msg)
        if not isinstance(spec, Mapping):
            msg = f"{where}中的“periods.{period}”应为表，例如 deadline = 2015-02-28T23:59:59。"
            raise ConfigError(msg)
        _no_unknown(spec, {"deadline"}, table=f'periods."{period}"', where=where)
        value = spec.get("deadline")
        if value is None:
            continue
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                pass
        if not isinstance(value, datetime):
            msg = (f"{where}中{period}的截止时间 deadline = {_shown(value)} 格式不对："
                   "应为日期时间，例如2015-02-28T23:59:59。")  # fmt: skip
            raise ConfigError(msg)
        deadlines[period] = value.replace(tzinfo=None)
    return deadlines
