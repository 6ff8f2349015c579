"""Every command documents itself in Chinese with a usage example; click's own messages are Chinese too."""

from __future__ import annotations

import importlib
import pkgutil
import re

import click
from click.testing import CliRunner

import jobs.cli
from jobs.cli import main
from jobs.cli._chinese import ChineseGroup, chinese_message

CJK = re.compile(r"[\u4e00-\u9fff]")


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
        _before, found, example = result.output.partition("示例")
        if result.exit_code != 0 or not found or "rectify" not in example:
            missing.append(" ".join(path))
    return missing


def not_chinese(group: click.Group) -> list[str]:
    """Commands and options whose help has no Chinese, and commands whose ``--help`` keeps click's English frame."""
    runner = CliRunner()
    found = []
    for path, cmd in _commands(group):
        name = " ".join(path)
        if not CJK.search(cmd.help or ""):
            found.append(name)
        ctx = cmd.make_context(name or "rectify", ["--help"], resilient_parsing=True)
        for param in cmd.get_params(ctx):
            if isinstance(param, click.Option) and not param.hidden and not CJK.search(param.help or ""):
                found.append(f"{name} {param.opts[-1]}")
        output = runner.invoke(group, [*path, "--help"]).output
        if "用法：" not in output or "选项：" not in output or re.search(r"Usage:|Options:|Commands:", output):
            found.append(f"{name} [help page]")
    return found


def test_every_command_help_has_an_example():
    assert missing_examples(main) == []


def test_every_help_text_is_chinese():
    assert not_chinese(main) == []


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


def test_a_command_without_an_example_or_chinese_is_caught():
    @click.group(cls=ChineseGroup, help="顶层。示例：rectify top")
    def top() -> None: ...

    @top.command(help="有示例。\n\n示例：rectify top documented")
    @click.option("--fine", help="中文说明。")
    def documented() -> None: ...

    @top.command(help="Example: rectify top bare")
    def bare() -> None: ...

    @top.group(help="下一层。示例：rectify top sub deep")
    def sub() -> None: ...

    @sub.command(help="深一层，没有示例。")
    @click.option("--english", help="Not translated.")
    def deep() -> None: ...

    top.add_command(click.Command("plain", help="普通click命令。示例：rectify top plain"))
    assert missing_examples(top) == ["bare", "sub deep"]
    assert not_chinese(top) == ["bare", "sub deep --english", "plain --help", "plain [help page]"]


def test_top_level_help_has_chinese_headings():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert result.output.startswith("用法：rectify")
    assert "选项：" in result.output and "命令：" in result.output and "显示此帮助并退出。" in result.output
    assert all(name in result.output for name in main.commands)
    ingest = CliRunner().invoke(main, ["ingest", "--help"]).output
    assert "[默认：local]" in ingest and "[必填]" in ingest
    assert "--period YYYY-MM" in ingest
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("rectify 版本 ")


def test_usage_errors_are_chinese_and_name_the_option(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(tmp_path)])
    assert result.exit_code == 2
    assert "错误：缺少选项 '--period'。" in result.stderr and "用法：rectify ingest" in result.stderr
    assert "Error" not in result.output and "Missing" not in result.output and "Usage" not in result.output
    result = runner.invoke(main, ["ingest", str(tmp_path), "--period", "2015-02", "--bogus"])
    assert result.exit_code == 2 and "错误：没有 --bogus 这个选项。" in result.stderr
    result = runner.invoke(main, ["ingest", str(tmp_path), "--period", "2015-02", "--workers", "x"])
    assert result.exit_code == 2 and "选项 '--workers' 的取值无效：“x”不是有效的整数。" in result.stderr
    result = runner.invoke(main, ["ingest", str(tmp_path / "nope"), "--period", "2015-02"])
    assert result.exit_code == 2 and "路径“" in result.stderr and "不存在" in result.stderr
    result = runner.invoke(main, ["nope"])
    assert result.exit_code == 2 and "没有“nope”这个命令。" in result.stderr
    result = runner.invoke(main, ["status", "--period"])
    assert result.exit_code == 2 and "选项 --period 后面需要一个值。" in result.stderr
    assert not re.search(r"[A-Za-z]{4,}", result.stderr.replace("rectify", "").replace("period", ""))


def test_aborted_is_chinese():
    @click.group(cls=ChineseGroup)
    def top() -> None: ...

    @top.command()
    def stop() -> None:
        raise click.Abort

    result = CliRunner().invoke(top, ["stop"])
    assert result.exit_code == 1 and result.stderr.strip() == "已中止！"
    # outside standalone mode click's behaviour is kept: the caller gets the exception
    try:
        top.main(["stop"], standalone_mode=False)
    except click.Abort:
        pass
    else:
        raise AssertionError("Abort not raised")


def test_our_chinese_messages_pass_through_and_clicks_are_translated():
    assert chinese_message("报送期“2015-2”格式不对") == "报送期“2015-2”格式不对"
    assert chinese_message("0 is not in the range x>=1.") == "0不在允许的范围（x>=1）内。"
    assert chinese_message("Got unexpected extra argument (b)") == "多余的参数：b"
