"""Every `gateway-ops` command is documented in the README (as sqlite-utils' test_docs does)."""
from __future__ import annotations

import pytest
import typer

from gateway_ops import cli
from gateway_ops.paths import PROJECT_ROOT


def command_paths(group, prefix: str = "gateway-ops") -> list[str]:
    """Every leaf command, e.g. "gateway-ops attendees oauth load" (typer vendors its own click)."""
    paths = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if getattr(command, "commands", None):
            paths.extend(command_paths(command, path))
        else:
            paths.append(path)
    return paths


COMMANDS = command_paths(typer.main.get_command(cli.app))


def test_the_cli_has_the_designed_commands():
    for designed in ("gateway-ops up", "gateway-ops bootstrap", "gateway-ops secrets set", "gateway-ops deploy",
                     "gateway-ops smoke", "gateway-ops query", "gateway-ops loadtest ratelimit",
                     "gateway-ops loadtest capacity", "gateway-ops dashboard", "gateway-ops report",
                     "gateway-ops attendees keys", "gateway-ops attendees tier", "gateway-ops attendees oauth load",
                     "gateway-ops attendees reissue", "gateway-ops attendees revoke", "gateway-ops control status",
                     "gateway-ops control maintenance on", "gateway-ops control maintenance off",
                     "gateway-ops control limit", "gateway-ops control models allow", "gateway-ops control models any",
                     "gateway-ops control max-tokens", "gateway-ops control budget", "gateway-ops teardown"):
        assert designed in COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_the_readme(command):
    assert command in (PROJECT_ROOT / "README.md").read_text(), f"document `{command}` in README.md"
