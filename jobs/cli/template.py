"""``rectify template``: write the blank return workbook."""

from __future__ import annotations

from pathlib import Path

import click

from jobs.cli._chinese import ChineseCommand
from jobs.core.errors import RectifyError
from jobs.core.schema import SchemaError

DEFAULT_OUT = "整改落实情况回头看报表模板.xlsx"


@click.command("template", cls=ChineseCommand)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="空白报表工作簿（.xlsx）的保存位置。",
)
def template_command(out: Path) -> None:
    """按规范生成空白报表模板：六张带下拉列表和数据验证的工作表，另加填表说明。

    \b
    示例：
        rectify template --out out/整改落实情况回头看报表模板.xlsx
    """
    from jobs.office.template import write_template

    if out.suffix.lower() != ".xlsx":
        msg = f"模板只能保存为 .xlsx 文件，收到：{out.name}"
        raise click.ClickException(msg)
    try:
        path = write_template(out)
    except (RectifyError, SchemaError) as exc:
        msg = f"模板生成失败：{exc}"
        raise click.ClickException(msg) from None
    except OSError as exc:
        msg = f"无法写入“{out}”：{exc.strerror or exc}。请检查目录是否存在、是否有写权限。"
        raise click.ClickException(msg) from None
    click.echo(f"已生成报表模板：{path}")


COMMANDS = [template_command]
