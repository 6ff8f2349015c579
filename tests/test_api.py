"""jobs.api: the month through the public entry points gives what the commands give."""

from __future__ import annotations

import json

from click.testing import CliRunner

from jobs import api
from jobs.cli import main
from jobs.office.home import init_home
from jobs.office.registry import load_registry
from jobs.rollup.summary import node_json
from tests.conftest import SAMPLES

PERIOD = "2015-02"


def test_the_month_through_the_api_equals_the_commands(tmp_path):
    returns = SAMPLES / "returns" / PERIOD
    home = init_home(tmp_path / "home")
    home.import_registry(SAMPLES / "registry.xlsx")

    intake = api.ingest(home, [returns], period=PERIOD, receipts=False)
    stored = intake.count("stored")
    assert stored == len(list(returns.iterdir())) - intake.count("failed")
    again = api.ingest(home, [returns], period=PERIOD, receipts=False)
    assert again.count("stored") == 0 and again.count("duplicate") == stored

    result = api.summarize(home, period=PERIOD)
    national = node_json(result.summary, result.summary.root)
    assert result.files["national"].is_file()
    printed = CliRunner().invoke(main, ["summarize", "--period", PERIOD, "--home", str(home.root), "--json"])
    assert printed.exit_code == 0, printed.output
    assert result.published == {"published_at": None, "revision": 0, "received_after_publish": []}
    want = {**national, **result.published}
    assert json.loads(printed.output.splitlines()[-1]) == json.loads(json.dumps(want, ensure_ascii=False))

    files = api.report(home, period=PERIOD, out_dir=tmp_path / "out", formats=("html",))
    assert files.context.figures["units_reported"].value == national["units_reported"]
    assert files.html is not None and files.html.is_file() and files.xlsx is None


def test_validate_files_through_the_api_matches_the_command(tmp_path):
    paths = sorted((SAMPLES / "returns" / PERIOD).iterdir())[:6]
    results = api.validate_files(paths, registry=load_registry(SAMPLES / "registry.xlsx"), period=PERIOD)
    printed = CliRunner().invoke(main, ["validate", *map(str, paths), "--registry", str(SAMPLES / "registry.xlsx"),
                                        "--period", PERIOD, "--json"])  # fmt: skip
    lines = [json.loads(line) for line in printed.output.splitlines() if line.startswith("{")]
    assert [r.report.accepted for r in results] == [line["accepted"] for line in lines]
    assert [[f.code for f in r.report.findings] for r in results] == [[f["code"] for f in line["findings"]]
                                                                      for line in lines]
