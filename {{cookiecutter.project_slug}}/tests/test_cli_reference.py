"""The command line documents itself: every command and option has help, and the README's
command reference is the parser's own (scripts/cli_reference.py writes it)."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from support import ROOT

from model_registry.cli import build_parser


def _script():
    spec = importlib.util.spec_from_file_location("cli_reference",
                                                  ROOT / "scripts" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_command_and_option_has_help():
    parser = build_parser()
    missing = [f"registry {name}: {action.dest}"
               for name, command in _script().commands(parser).items()
               for action in command._actions
               if not (action.help or "").strip() and action.help is not argparse.SUPPRESS]
    missing += [f"registry {name}" for name, command in _script().commands(parser).items()
                if not (command.description or "").strip()]
    assert not missing, f"no help for: {', '.join(missing)}"


def test_the_readme_command_reference_is_in_step_with_the_parser():
    script = _script()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert script.updated(readme, script.reference()) == readme, (
        "README.md's command reference is out of date: run python scripts/cli_reference.py")
    for name in script.commands(build_parser()):
        assert f"#### `registry {name}`" in readme
