"""The pipeline's own steps (`deploy`, `archive-bundle`, `smoke-test-result`, `drift-report-link`),
registered apart from the operator's commands: runnable by name, but listed in `--help` only
under "pipeline steps", so the operator's list holds what an operator types."""

from __future__ import annotations

import argparse
from typing import Any


class Unlisted:
    """Adds subcommands without a line in the parent's command list; records their names.

    argparse lists a subcommand only when `add_parser` gets `help=`, so that text becomes the
    step's description (shown by `ml-deploy STEP --help`) instead.
    """

    def __init__(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        self._commands = commands
        self.names: list[str] = []

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        text = kwargs.pop("help", None)
        kwargs.setdefault("description", f"pipeline step: {text}" if text else "pipeline step")
        self.names.append(name)
        return self._commands.add_parser(name, **kwargs)


def epilog(names: list[str]) -> str:
    return (
        "pipeline steps (run by the pipeline's CodeBuild projects; `ml-deploy STEP --help` for each):\n  "
        + ", ".join(names)
    )
