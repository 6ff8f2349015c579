"""Every command documents itself with a usage example."""

from __future__ import annotations

import click
from click.testing import CliRunner

from jobs.cli import main


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    yield prefix, group
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


def test_every_command_help_has_an_example():
    runner = CliRunner()
    seen = []
    for path, _cmd in _commands(main):
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Example" in result.output, f"`rectify {' '.join(path)} --help` lacks a usage example"
        assert "rectify" in result.output.split("Example", 1)[1], path
        seen.append(" ".join(path))
    assert "" in seen


def test_top_level_help_lists_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "Commands" in result.output or len(main.commands) == 0
