"""The office's configuration as typed objects (``config.toml``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what a received file may contain; override any of them from config.

    Sizes are in MB. Ratios are checked only for entries (and the whole zip)
    larger than ``ratio_floor_mb``: tiny parts compress extremely well.
    """

    max_file_mb: float = 30
    max_uncompressed_mb: float = 300
    max_ratio: float = 200
    ratio_floor_mb: float = 1
    max_entries: int = 2000
    max_rows: int = 100_000
    max_columns: int = 1_000
    max_cells: int = 5_000_000
    max_cell_chars: int = 32_767

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> Limits:
        """Limits from the config's ``limits`` table; keys that are not limits of
        this class (``batch_size``, ``lock_timeout_seconds`` ...) are ignored."""
        if not data:
            return cls()
        names = {f.name: f.type for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in names:
                continue
            try:
                number = float(value) if names[key] == "float" else int(value)
            except (TypeError, ValueError):
                number = 0
            if number <= 0:
                msg = f"limit {key} must be a number > 0, got {value!r}"
                raise ValueError(msg)
            values[key] = number
        return cls(**values)
