"""The office home: config (TOML), the unit registry's history, the store.

Layout of a home directory::

    config.toml            time zone, periods and deadlines, thresholds, limits, paths
    registry/index.json    registry versions: version, from_period, source, sha256
    registry/v0001.parquet one frame per imported registry version
    store/                 see jobs.store
    outbox/<period>/       receipts for the units
    store.lock             the writers' lock (jobs.office.lock)

The home is found from ``--home``, else ``$RECTIFY_HOME``, else ``./rectify-data``.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import os
import re
import tomllib
from dataclasses import replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from jobs.core.errors import RectifyError
from jobs.core.files import atomic_write
from jobs.office.config import CONFIG_NAME, Config, ConfigError

ENV_HOME = "RECTIFY_HOME"
DEFAULT_HOME = "rectify-data"
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

class HomeError(RectifyError):
    """The office home is missing or its config is wrong (Chinese message)."""


def check_period(period: str) -> str:
    """Return ``period`` if it is ``YYYY-MM``; raise :class:`HomeError` otherwise."""
    if not isinstance(period, str) or not _PERIOD.match(period):
        msg = f"报送期“{period}”格式不对，应为YYYY-MM，例如2015-02。"
        raise HomeError(msg)
    return period


def default_deadline(period: str) -> datetime:
    """The last day of ``period`` at 23:59:59 (naive local time)."""
    year, month = (int(p) for p in check_period(period).split("-"))
    return datetime(year, month, calendar.monthrange(year, month)[1], 23, 59, 59)


def resolve_home(home: str | Path | None = None) -> Path:
    """The home directory: the argument, else ``$RECTIFY_HOME``, else ``./rectify-data``."""
    if home:
        return Path(home)
    return Path(os.environ.get(ENV_HOME) or DEFAULT_HOME)


def dump_toml(data: dict[str, Any]) -> str:
    """Write a config dict as TOML (scalars, datetimes and nested tables only)."""
    lines: list[str] = ["# rectify office configuration (编辑后请保持TOML格式)"]

    def emit(table: dict[str, Any], prefix: tuple[str, ...]) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in table.items() if isinstance(v, dict)}
        if prefix and (scalars or not tables):
            lines.extend(["", f"[{'.'.join(_toml_key(p) for p in prefix)}]"])
        for key, value in scalars.items():
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
        for key, value in tables.items():
            emit(value, (*prefix, key))

    emit(data, ())
    return "\n".join(lines) + "\n"


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    return json.dumps(str(value), ensure_ascii=False)


class Home:
    """An office home directory; open it with :meth:`open`, create it with :func:`init_home`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @classmethod
    def open(cls, home: str | Path | None = None) -> Home:
        """Open an initialised home (``--home``, ``$RECTIFY_HOME`` or ``./rectify-data``).

        Raises :class:`HomeError` when it is not initialised and
        :class:`jobs.office.config.ConfigError` when its ``config.toml`` is
        wrong: config mistakes stop a command before it starts.
        """
        root = resolve_home(home)
        if not (root / CONFIG_NAME).is_file():
            msg = f"办公室数据目录“{root}”尚未初始化，请先运行：rectify init --home {root}"
            raise HomeError(msg)
        opened = cls(root)
        _ = opened.config
        return opened

    @cached_property
    def config(self) -> Config:
        path = self.root / CONFIG_NAME
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            msg = f"配置文件“{path}”格式有误：{exc}"
            raise ConfigError(msg) from None
        return Config.from_dict(data, source=path)

    def save_config(self, config: Config) -> None:
        atomic_write(self.root / CONFIG_NAME, dump_toml(config.to_dict()).encode("utf-8"))
        self.__dict__.pop("config", None)

    def path(self, name: str) -> Path:
        """A configured sub-path (``store``, ``outbox``, ``registry``; else ``name`` itself), relative to the home."""
        return self.root / getattr(self.config.paths, name, name)

    @cached_property
    def store(self):  # -> jobs.store.Store (imported lazily: the CLI starts fast)
        from jobs.store import Store

        return Store(self.path("store"))

    def outbox(self, period: str) -> Path:
        return self.path("outbox") / check_period(period)

    def deadline(self, period: str) -> datetime:
        """The period's deadline (naive local time): configured, else the month's last second."""
        return self.config.deadlines.get(check_period(period)) or default_deadline(period)

    def set_deadline(self, period: str, deadline: datetime) -> None:
        """Record a period's deadline in ``config.toml``."""
        check_period(period)
        with self.lock(holder="rectify deadline"):
            self.__dict__.pop("config", None)  # re-read: another process may have changed it
            config = self.config
            deadlines = {**config.deadlines, period: deadline.replace(tzinfo=None)}
            self.save_config(replace(config, deadlines=deadlines))

    def now(self) -> datetime:
        """Current naive local time in the office's time zone."""
        return datetime.now(self.config.tz).replace(tzinfo=None)

    def lock(self, *, holder: str = "rectify", timeout: float | None = None):
        """The home's write lock (context manager), see :func:`jobs.office.lock.store_lock`."""
        from jobs.office.lock import store_lock

        wait = self.config.limits.lock_timeout_seconds if timeout is None else timeout
        return store_lock(self.root, timeout=wait, holder=holder)

    # -- registry history -------------------------------------------------
    def registry_versions(self) -> list[dict[str, Any]]:
        """Imported registry versions, oldest first (``version, from_period, source, sha256, units``)."""
        index = self.path("registry") / "index.json"
        if not index.is_file():
            return []
        return json.loads(index.read_text(encoding="utf-8"))

    def import_registry(self, source: str | Path, *, from_period: str | None = None) -> dict[str, Any]:
        """Read, check and record a registry file as a new version effective from ``from_period``.

        Units absent from the new version are closed from ``from_period`` on;
        earlier periods keep using the version that was effective for them.
        Re-importing an identical file for the same period changes nothing.

        Raises
        ------
        jobs.office.registry.RegistryError
            Listing every fault of the file in Chinese.
        """
        from jobs.office.registry import load_registry

        source = Path(source)
        frame = load_registry(source)
        period = check_period(from_period) if from_period else self.now().strftime("%Y-%m")
        with self.lock(holder="rectify registry import"):  # two imports must not take the same version number
            return self._record_registry(frame, source=source, period=period)

    def _record_registry(self, frame: pl.DataFrame, *, source: Path, period: str) -> dict[str, Any]:
        digest = hashlib.sha256(frame.write_csv().encode("utf-8")).hexdigest()
        versions = self.registry_versions()
        for v in versions:
            if v["sha256"] == digest and v["from_period"] == period:
                return v
        entry = {
            "version": len(versions) + 1,
            "from_period": period,
            "source": source.name,
            "sha256": digest,
            "units": frame.height,
            "imported_at": self.now().isoformat(timespec="seconds"),
        }
        folder = self.path("registry")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"v{entry['version']:04d}.parquet"
        atomic_write(target, frame.write_parquet)
        payload = json.dumps([*versions, entry], ensure_ascii=False, indent=1).encode("utf-8")
        atomic_write(folder / "index.json", payload)
        self.__dict__.pop("_registry_cache", None)
        return entry

    def registry_version(self, period: str) -> dict[str, Any]:
        """The registry version effective for ``period``.

        The latest-imported version whose ``from_period`` is on or before the
        period; for periods before every version, the earliest one (the best
        knowledge of who existed then).
        """
        versions = self.registry_versions()
        if not versions:
            msg = "尚未导入组织机构名册，请先运行：rectify registry import 名册.xlsx"
            raise HomeError(msg)
        check_period(period)
        eligible = [v for v in versions if v["from_period"] <= period]
        if not eligible:
            earliest = min(v["from_period"] for v in versions)
            eligible = [v for v in versions if v["from_period"] == earliest]
        return max(eligible, key=lambda v: (v["from_period"], v["version"]))

    def registry(self, period: str) -> pl.DataFrame:
        """The registry frame (jobs.office.registry columns) effective for ``period``."""
        return self.registry_at(self.registry_version(period)["version"])

    def registry_at(self, version: int) -> pl.DataFrame:
        """The registry frame of an imported ``version`` (a publication keeps the one it used)."""
        cache = self.__dict__.setdefault("_registry_cache", {})
        if version not in cache:
            cache[version] = pl.read_parquet(self.path("registry") / f"v{version:04d}.parquet")
        return cache[version]


def init_home(home: str | Path | None = None, *, timezone: str | None = None) -> Home:
    """Create the home directory with a default ``config.toml`` (an existing config is kept)."""
    root = resolve_home(home)
    root.mkdir(parents=True, exist_ok=True)
    config_path = root / CONFIG_NAME
    if not config_path.exists():
        config = Config.from_dict({"timezone": timezone}) if timezone else Config()  # checked before writing
        atomic_write(config_path, dump_toml(config.to_dict()).encode("utf-8"))
    home_obj = Home(root)
    for name in ("store", "outbox", "registry"):
        home_obj.path(name).mkdir(parents=True, exist_ok=True)
    return home_obj
