"""Every command documents itself with a usage example."""

from __future__ import annotations

import importlib
import pkgutil

import click
from click.testing import CliRunner

import jobs.cli
from jobs.cli import main


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    yield prefix, group
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


def missing_examples(group: click.Group) -> list[str]:
    """The commands (space-joined paths, ``""`` for the group) whose ``--help`` shows no ``rectify`` example."""
    runner = CliRunner()
    missing = []
    for path, _cmd in _commands(group):
        result = runner.invoke(group, [*path, "--help"])
        _before, found, example = result.output.partition("Example")
        if result.exit_code != 0 or not found or "rectify" not in example:
            missing.append(" ".join(path))
    return missing


def test_every_command_help_has_an_example():
    assert missing_examples(main) == []


def test_every_command_module_is_walked():
    """The walk above sees each command every ``jobs.cli`` module declares, subcommands included."""
    declared = set()
    for info in pkgutil.iter_modules(jobs.cli.__path__):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"jobs.cli.{info.name}")
            declared |= {command.name for command in getattr(module, "COMMANDS", [])}
    walked = {path for path, _cmd in _commands(main)}
    assert len(declared) >= 10
    assert {(name,) for name in declared} <= walked
    assert any(len(path) == 2 for path in walked)  # subcommands (e.g. registry import) are walked too


def test_a_command_without_an_example_is_caught():
    @click.group(help="Example: rectify top")
    def top() -> None: ...

    @top.command(help="Documented.\n\nExample: rectify top documented")
    def documented() -> None: ...

    @top.command()
    def bare() -> None: ...

    @top.group(help="Example: rectify top sub deep")
    def sub() -> None: ...

    @sub.command(help="Deep, but no example.")
    def deep() -> None: ...

    assert missing_examples(top) == ["bare", "sub deep"]


def test_top_level_help_lists_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "Commands" in result.output
    assert all(name in result.output for name in main.commands)
