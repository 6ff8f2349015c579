"""The console script (jobs.cli.run): a GC-tuned process (jobs.process) that exits the ordinary way."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"

# An object whose finaliser only runs when the interpreter tears its modules down,
# and an atexit handler, which must run either way.
_PROBE = """
import atexit, os, sys
from pathlib import Path
marks = Path(sys.argv.pop(1))
_FD = os.open(marks, os.O_WRONLY | os.O_APPEND)

class Torn:
    # everything bound up front: during teardown module globals may be gone
    def __del__(self, _write=os.write, _fd=_FD):
        _write(_fd, b"teardown\\n")

KEEP = Torn()
atexit.register(lambda: marks.open("a").write("atexit\\n"))
"""


def _run(tmp_path: Path, body: str, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    marks = tmp_path / "marks.txt"
    marks.write_text("", encoding="utf-8")
    code = textwrap.dedent(_PROBE) + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", code, str(marks), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=False)
    return done, marks.read_text(encoding="utf-8").split()


def test_run_keeps_status_and_atexit_handlers_but_skips_teardown(tmp_path: Path) -> None:
    body = """
    import jobs.cli
    sys.argv = ["rectify", *sys.argv[1:]]
    jobs.cli.run()
    """
    done, marks = _run(tmp_path, body, "--version")
    assert done.returncode == 0, done.stderr
    assert "rectify" in done.stdout
    assert marks == ["atexit"]  # handlers ran; the frozen modules were left to the OS (no finaliser)

    done, marks = _run(tmp_path, body, "validate", "--no-such-option")
    assert done.returncode == 2  # click's usage error status
    assert "no-such-option" in done.stderr
    assert marks == ["atexit"]


def test_the_console_script_runs_the_cyclic_gc_less_often_and_exits_with_a_frozen_heap(tmp_path: Path) -> None:
    from jobs.process import GC_THRESHOLDS

    done, marks = _run(tmp_path, """
    import gc, jobs.cli
    atexit.register(lambda: marks.open("a").write(f"{gc.get_threshold()[0]} {gc.get_freeze_count() > 0}\\n"))
    sys.argv = ["rectify", "--version"]
    jobs.cli.run()
    """)
    assert done.returncode == 0, done.stderr
    assert marks == [str(GC_THRESHOLDS[0]), "True", "atexit"]
    assert GC_THRESHOLDS[0] > 700  # the interpreter's default


def test_main_alone_leaves_the_gc_as_it_is_and_tears_down(tmp_path: Path) -> None:
    done, marks = _run(tmp_path, """
    import gc, jobs.cli
    atexit.register(lambda: marks.open("a").write(f"{gc.get_threshold()[0]} {gc.get_freeze_count() > 0}\\n"))
    sys.argv = ["rectify", "--version"]
    jobs.cli.main()
    """)
    assert done.returncode == 0, done.stderr
    assert marks == ["700", "False", "atexit", "teardown"]


def test_a_running_thread_is_waited_for_the_ordinary_way(tmp_path: Path) -> None:
    done, marks = _run(tmp_path, """
    import threading, time, jobs.cli
    threading.Thread(target=lambda: (time.sleep(0.3), marks.open("a").write("thread\\n"))).start()
    sys.argv = ["rectify", "--version"]
    jobs.cli.run()
    """)
    assert done.returncode == 0
    assert marks == ["thread", "atexit"]


def test_validate_through_the_console_script_prints_every_line_and_exits_1_on_errors() -> None:
    files = sorted((SAMPLES / "returns" / "2015-02").glob("*.xls*"))
    done = subprocess.run(
        [sys.executable, "-m", "jobs", "validate", *map(str, files), "--registry", str(SAMPLES / "registry.xlsx"),
         "--period", "2015-02", "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == len(files)  # all buffered output flushed before the quick exit
    assert done.returncode == (1 if any(not line["accepted"] for line in lines) else 0)
    assert any(not line["accepted"] for line in lines)
