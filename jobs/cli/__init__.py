"""The ``rectify`` command line: a thin click layer over the typed core.

Each module in :mod:`jobs.cli` exposes ``COMMANDS``, a list of click
commands; they are discovered here so adding a command is adding a module.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import pkgutil
import sys
import threading

import click

from jobs import __version__


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="rectify")
def main() -> None:
    """Collect, validate and summarise the monthly rectification returns
    (整改落实情况“回头看”报表).

    \b
    Example — the office's month:
        rectify init
        rectify registry import samples/registry.xlsx
        rectify watch inbox/ --period 2015-02      # or: rectify ingest inbox/ --period 2015-02
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


# Allocations before a young collection, and collections before an older one
# (mypy's settings): see :func:`run`.
GC_THRESHOLDS = (200_000, 30, 30)


def run() -> None:
    """The ``rectify`` console script: :func:`main`, then a quick exit.

    A validation run ends holding hundreds of MB of small frames and GX's
    thousands of classes. Tearing the interpreter down frees them one by one
    (~1.3 s of CPU after 5,000 returns, 8% of the run) only for the OS to
    reclaim the memory anyway. So when the command is done, the atexit
    handlers run (every library's own included), the streams are flushed and
    the process ends with ``os._exit``. With other threads still running, or
    an exit that is not a plain status, it leaves the ordinary way.

    The cyclic GC also runs less often in these processes (as mypy does):
    reading thousands of returns allocates millions of containers, almost none
    of them cyclic garbage, and the default threshold (700) walked them ~1,200
    times (~0.4 s of CPU on 5,000 returns against ~0.1 s).
    """
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        main()
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code
        if not isinstance(code, int) or _threads_running() or not hasattr(atexit, "_run_exitfuncs"):
            raise
    else:
        code = 0
    _quick_exit(code)


def _threads_running() -> bool:
    """Whether a non-daemon thread other than this one is alive (shutdown would wait for it)."""
    return any(t is not threading.current_thread() and not t.daemon for t in threading.enumerate())


def _quick_exit(code: int) -> None:
    atexit._run_exitfuncs()  # private, but what interpreter shutdown runs; present since Python 2
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more to deliver
            code = code or 1
    os._exit(code)
