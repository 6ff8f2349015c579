"""The ``rectify`` command line: a thin click layer over the typed core.

Each module in :mod:`jobs.cli` exposes ``COMMANDS``, a list of click
commands; they are discovered here so adding a command is adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil

import click

from jobs import __version__
from jobs.cli._chinese import VERSION_HELP, VERSION_MESSAGE, ChineseGroup
from jobs.process import console_process


@click.group(
    "rectify",
    cls=ChineseGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="rectify", help=VERSION_HELP, message=VERSION_MESSAGE)
def main() -> None:
    """收集、检查、汇总每月的整改落实情况“回头看”报表。

    \b
    示例（办公室的一个月）：
        rectify init
        rectify registry import samples/registry.xlsx
        rectify watch inbox/ --period 2015-02      # 或：rectify ingest inbox/ --period 2015-02
        rectify status --period 2015-02
        rectify run --period 2015-02 --inbox inbox/
    """


def _register() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            main.add_command(command)


_register()


def run() -> None:
    """The ``rectify`` console script: :func:`main` in a GC-tuned process (:mod:`jobs.process`)."""
    with console_process():
        main()
