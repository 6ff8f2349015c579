"""The office home: config (TOML), the unit registry's history, the store.

Layout of a home directory::

    config.toml            time zone, periods and deadlines, thresholds, limits, paths
    registry/index.json    registry versions: version, from_period, covers_all, source, sha256, units
    registry/v0001.parquet one frame per imported registry version

Registry versions are effective-dated: a version is in force from its
``from_period`` on, or for every period when ``covers_all`` (a first import
without ``--from-period``; in an ``index.json`` written before that key
existed, its first version: see :func:`covers_all`).
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
        except UnicodeDecodeError:  # saved as GBK by an editor
            msg = f"配置文件“{path}”不是UTF-8编码的文本，请用UTF-8编码重新保存（记事本：另存为，编码选UTF-8）。"
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
        """Imported registry versions, oldest first (``version, from_period, covers_all, source, sha256, units``)."""
        index = self.path("registry") / "index.json"
        if not index.is_file():
            return []
        return json.loads(index.read_text(encoding="utf-8"))

    def import_registry(self, source: str | Path, *, from_period: str | None = None) -> dict[str, Any]:
        """Read, check and record a registry file as a new version effective from ``from_period``.

        The first import is in force for every period unless ``from_period``
        is given; every later import must give it. Units absent from the new
        version are closed from ``from_period`` on; earlier periods keep using
        the version that was effective for them. Content identical (after
        reading) to the version in force for ``from_period`` (or, without it,
        to the latest version) records nothing.

        Returns
        -------
        dict
            The version's index entry, with ``unchanged`` True when nothing
            was recorded (the entry is then the version in force).

        Raises
        ------
        jobs.office.registry.RegistryError
            Listing every fault of the file in Chinese, each naming its row; nothing is recorded.
        RegistryPeriodRequired
            A later import without ``from_period``.
        """
        from jobs.office.registry import load_registry

        source = Path(source)
        period = check_period(from_period) if from_period else None
        frame = load_registry(source)
        with self.lock(holder="rectify registry import"):  # two imports must not take the same version number
            versions = self.registry_versions()
            if period is not None:
                in_force = self._in_force(versions, period)
            else:
                in_force = max(versions, key=_version_order) if versions else None
            if in_force is not None and same_units(self.registry_frame(in_force["version"]), frame):
                return {**in_force, "unchanged": True}
            if versions and period is None:
                latest = max(versions, key=_version_order)
                msg = (f"已导入过名册（现行第{latest['version']}版），再次导入须用 --from-period 指明"
                       "新版名册自哪个报送期起生效，例如：rectify registry import 名册.xlsx --from-period 2015-03")
                raise RegistryPeriodRequired(msg)
            entry = self._record_registry(frame, source=source, period=period, versions=versions)
        return {**entry, "unchanged": False}

    def _record_registry(
        self, frame: pl.DataFrame, *, source: Path, period: str | None, versions: list[dict[str, Any]]
    ) -> dict[str, Any]:
        digest = hashlib.sha256(frame.sort("code").write_csv().encode("utf-8")).hexdigest()
        entry = {
            "version": len(versions) + 1,
            "from_period": period,
            # only a first import without --from-period is in force for every period
            "covers_all": not versions and period is None,
            "source": source.name,
            "sha256": digest,
            "units": frame.height,
            "expected": int(frame["must_report"].sum()),
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

    @staticmethod
    def _in_force(versions: list[dict[str, Any]], period: str) -> dict[str, Any] | None:
        eligible = [v for v in versions if covers_all(v) or (v["from_period"] or "") <= period]
        return max(eligible, key=_version_order) if eligible else None

    def registry_version(self, period: str) -> dict[str, Any]:
        """The registry version effective for ``period``.

        The latest-imported version whose ``from_period`` is on or before the
        period, or one that covers every period (:func:`covers_all`). A period
        before every version in force is an error, not a fallback.

        Raises
        ------
        HomeError
            No registry imported, or none in force for ``period``.
        """
        versions = self.registry_versions()
        if not versions:
            msg = "尚未导入组织机构名册，请先运行：rectify registry import 名册.xlsx"
            raise HomeError(msg)
        check_period(period)
        found = self._in_force(versions, period)
        if found is None:
            first = min(versions, key=_version_order)
            msg = (f"报送期{period}没有适用的组织机构名册：最早的一版（第{first['version']}版）自{first['from_period']}起生效。"
                   f"如某版名册也适用于{period}，请用 rectify registry import 名册文件 --from-period {period} 导入。")
            raise HomeError(msg)
        return found

    def registry_frame(self, version: int) -> pl.DataFrame:
        """The registry frame (jobs.office.registry columns) of ``version``."""
        cache = self.__dict__.setdefault("_registry_cache", {})
        if version not in cache:
            cache[version] = pl.read_parquet(self.path("registry") / f"v{version:04d}.parquet")
        return cache[version]

    def registry(self, period: str) -> pl.DataFrame:
        """The registry frame (jobs.office.registry columns) effective for ``period``."""
        return self.registry_frame(self.registry_version(period)["version"])


class RegistryPeriodRequired(HomeError):
    """A later registry import without ``--from-period`` (a usage error; Chinese message)."""


def covers_all(version: dict[str, Any]) -> bool:
    """Whether a registry version is in force for every period (back to the first one).

    A first import without ``--from-period`` is (``covers_all`` in its index
    entry). An ``index.json`` written before effective dates were strict has
    no ``covers_all``: its first version is taken to cover every period, as
    the old fallback to the earliest version effectively did, so old homes keep working.
    """
    if "covers_all" in version:
        return bool(version["covers_all"])
    return version["version"] == 1


def _version_order(version: dict[str, Any]) -> tuple[str, int]:
    return (version["from_period"] or "", version["version"])


def same_units(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    """Whether two registry frames hold the same units with the same values (row order aside)."""
    from jobs.office.registry import REGISTRY_SCHEMA

    cols = list(REGISTRY_SCHEMA)
    if set(cols) - set(a.columns) or set(cols) - set(b.columns):
        return False
    return a.select(cols).sort("code").equals(b.select(cols).sort("code"))


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
