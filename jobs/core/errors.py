"""Known failures, each carrying a Chinese reason a clerk or the office can act on."""

from __future__ import annotations


class RectifyError(Exception):
    """Base of the project's known errors; the CLI turns these into clean messages."""


class UnreadableFile(RectifyError):
    """A received file cannot be read as a return (finding ``unreadable-file``).

    ``reason`` is Chinese and names what the unit should do, e.g.
    “文件已加密，请去除密码后重新报送”.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
