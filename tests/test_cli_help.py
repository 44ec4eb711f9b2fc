"""Every command's --help, as a user reads it in an 80-column terminal."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from replayqa.cli import main


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("command", _commands(main), ids=" ".join)
def test_help_gives_an_example_and_the_exit_codes_within_80_columns(command):
    done = CliRunner().invoke(main, [*command, "--help"], terminal_width=80)
    assert done.exit_code == 0, done.output
    assert "Example" in done.output
    assert "exit" in done.output.lower()
    wide = [line for line in done.output.splitlines() if len(line) > 80]
    assert not wide, wide
