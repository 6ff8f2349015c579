"""click in Chinese: usage, help headings, the help option and click's own errors.

click translates its strings only through the process-wide ``gettext``
domain and the user's locale, which an office machine need not have set; so
the ``rectify`` group and every command use these classes instead (public
click hooks only, no catalogue to install):

- :class:`ChineseFormatter` — ``用法：``, ``选项``/``命令`` headings, ``[默认：…]``;
- :class:`ChineseCommand` / :class:`ChineseGroup` — that formatter, a Chinese
  ``-h/--help`` text, and (the group's ``main``) click's usage errors and
  ``Aborted!`` in Chinese.

Option names (``--period``) stay English: they are what the clerk types.
"""

from __future__ import annotations

import errno
import os
import re
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from jobs.cli._common import as_failure

HELP_TEXT = "显示此帮助并退出。"
VERSION_HELP = "显示版本并退出。"
VERSION_MESSAGE = "%(prog)s 版本 %(version)s"
ABORTED = "已中止！"

_HEADINGS = {"Options": "选项", "Commands": "命令", "Positional arguments": "参数"}
_EXTRAS = (("env var: ", "环境变量："), ("default: ", "默认："), ("required", "必填"))
_KINDS = {"argument": "参数", "option": "选项", "parameter": "参数"}
_PATHS = {"File": "文件", "Directory": "文件夹", "Path": "路径"}
_PATH = r"(?P<kind>File|Directory|Path) '(?P<v>.*)'"
# click's message templates (click/core.py, parser.py, types.py) and their Chinese
_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), zh)
    for pattern, zh in (
        (r"No such command '(?P<v>.*)'\.", "没有“{v}”这个命令。"),
        (r"Missing command\.", "缺少命令。"),
        (r"Got unexpected extra arguments? \((?P<v>.*)\)", "多余的参数：{v}"),
        (r"Option '(?P<v>.*)' requires an argument\.", "选项 {v} 后面需要一个值。"),
        (r"Option '(?P<v>.*)' requires (?P<n>\d+) arguments\.", "选项 {v} 后面需要{n}个值。"),
        (r"Option '(?P<v>.*)' does not take a value\.", "选项 {v} 不带值。"),
        (r"'(?P<v>.*)' is not a valid (integer|integer range)\.", "“{v}”不是有效的整数。"),
        (r"'(?P<v>.*)' is not a valid (float|float range)\.", "“{v}”不是有效的数字。"),
        (r"(?P<v>.*) is not in the range (?P<n>.*)\.", "{v}不在允许的范围（{n}）内。"),
        (r"'(?P<v>.*)' is not (one of )?(?P<n>.*)\.", "“{v}”不是可选的值，可选：{n}。"),
        (_PATH + r" does not exist\.", "{kind}“{v}”不存在。"),
        (_PATH + r" is a file\.", "{kind}“{v}”是文件，这里应为文件夹。"),
        (_PATH + r" is a directory\.", "{kind}“{v}”是文件夹，这里应为文件。"),
        (_PATH + r" is not readable\.", "{kind}“{v}”无法读取（没有权限）。"),
        (_PATH + r" is not writable\.", "{kind}“{v}”无法写入（没有权限）。"),
    )
)


def chinese_message(message: str) -> str:
    """click's English message in Chinese (a message already in Chinese, ours, is kept)."""
    for pattern, zh in _MESSAGES:
        found = pattern.fullmatch(message.strip())
        if found:
            fields = found.groupdict()
            if "kind" in fields:
                fields["kind"] = _PATHS[fields["kind"]]
            return zh.format(**fields)
    return message


def error_message(exc: click.ClickException) -> str:
    """The Chinese text of a click error (after ``错误：``)."""
    if isinstance(exc, click.BadParameter):
        ctx = exc.ctx
        param = exc.param
        hint = exc.param_hint
        if hint is None and param is not None:
            hint = param.get_error_hint(ctx) if ctx is not None else param.name
        if not isinstance(hint, str) and hint is not None:
            hint = " / ".join(hint)
        kind = _KINDS.get(getattr(exc, "param_type", None) or (param.param_type_name if param else "parameter"), "参数")
        if isinstance(exc, click.MissingParameter):
            text = f"缺少{kind} {hint}。"
            if param is not None and isinstance(param.type, click.Choice):
                text += f"可选：{', '.join(map(str, param.type.choices))}。"
            return text
        if hint is None:
            return f"取值无效：{chinese_message(exc.message)}"
        return f"{kind} {hint} 的取值无效：{chinese_message(exc.message)}"
    if isinstance(exc, click.NoSuchOption):
        text = f"没有 {exc.option_name} 这个选项。"
        if exc.possibilities:
            text += f"是否想用：{', '.join(sorted(exc.possibilities))}？"
        return text
    return chinese_message(exc.format_message())


def show_error(exc: click.ClickException) -> None:
    """Print a click error as click does (usage and a hint for usage errors), in Chinese, on stderr."""
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        ctx = exc.ctx
        click.echo(ctx.get_usage(), err=True, color=ctx.color)
        if ctx.command.get_help_option(ctx) is not None:
            click.echo(f"运行“{ctx.command_path} {ctx.help_option_names[0]}”查看帮助。", err=True, color=ctx.color)
        click.echo(err=True)
    click.echo(f"错误：{error_message(exc)}", err=True)


class ChineseFormatter(click.HelpFormatter):
    """click's help layout with Chinese headings, usage prefix and option notes."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, prefix="用法：" if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{_HEADINGS.get(heading, heading)}：\n")

    def write_dl(self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        # terms (option names, metavars) stay as click writes them: click aligns columns by
        # character count, so a Chinese metavar (two columns wide) would break the alignment
        super().write_dl([(term, _notes(text)) for term, text in rows], col_max, col_spacing)


def _notes(text: str) -> str:
    # the "[default: local; required]" click appends to an option's help
    found = re.search(r"\[([^\[\]]*)\]$", text)
    if not found:
        return text
    notes = found.group(1)
    for english, chinese in _EXTRAS:
        notes = notes.replace(english, chinese)
    notes = notes.replace("; ", "；")
    return f"{text[: found.start()]}[{notes}]"


class ChineseContext(click.Context):
    formatter_class = ChineseFormatter


def join_lines(text: str | None) -> str | None:
    """A docstring's lines joined where both ends are Chinese: click joins wrapped lines with a space."""
    return None if text is None else _CJK_BREAK.sub("", text)


_CJK_BREAK = re.compile(r"(?<=[^\x00-\x7f])\n[ \t]*(?=[^\x00-\x7f\s])")


class _Chinese:
    """What a Chinese command and group share: help text joined, help option in Chinese."""

    help: str | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = join_lines(self.help)

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.help = HELP_TEXT
        return option


class ChineseCommand(_Chinese, click.Command):
    """A command whose help and usage are in Chinese (``cls=`` of ``@click.command``)."""

    context_class = ChineseContext


class ChineseGroup(_Chinese, click.Group):
    """A group in Chinese (``rectify``, ``rectify registry``); the top group's :meth:`main` shows click's errors in Chinese."""

    context_class = ChineseContext
    command_class = ChineseCommand
    group_class = type  # click's spelling for "subgroups are of this class too"

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """click's ``main``; standalone, its errors and ``Aborted!`` are printed in Chinese.

        With ``standalone_mode=False`` click's own behaviour (exceptions raised) is kept.
        """
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            # non-standalone, click returns the code of ctx.exit() (0 after --help) or the command's value
            value = super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as exc:
            show_error(exc)
            _exit(exc.exit_code)
        except click.Abort:
            click.echo(ABORTED, err=True)
            _exit(1)
        except Exception as exc:  # a full disk, a read-only home, a damaged store: Chinese, no traceback
            if isinstance(exc, OSError) and exc.filename is None and _from_echo(exc):
                exc.filename = "标准输出"
                _silence_stdout()
            failure = as_failure(exc)
            if failure is None:
                raise
            show_error(failure)
            _exit(1)
        _exit(value if isinstance(value, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        value = super().invoke(ctx)
        if ctx.parent is None and not _stdout_writable():  # output to a full disk fails here, not at exit
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "标准输出")
        return value


def _stdout_writable() -> bool:
    """Whether standard output took every write (else it is silenced, see :func:`_silence_stdout`)."""
    try:
        sys.stdout.flush()
    except OSError:
        _silence_stdout()
        return False
    return True


def _from_echo(exc: OSError) -> bool:
    # click.echo writes and flushes standard output: a failure there is the output's, not a file's
    return any(frame.f_code.co_name == "echo" and "click" in frame.f_code.co_filename
               for frame, _ in traceback.walk_tb(exc.__traceback__))  # fmt: skip


def _silence_stdout() -> None:
    """Point standard output at /dev/null: the interpreter's own flush at exit must not fail a second time."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):  # not a real file (a test runner's buffer)
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, fd)
    os.close(null)


def _exit(code: int) -> NoReturn:
    sys.exit(code)
