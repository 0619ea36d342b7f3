"""The next command to type, spelled for the backend in use (`ml-deploy --local ...` under --local)."""

from __future__ import annotations

import argparse


def hint(args: argparse.Namespace, command: str) -> str:
    """`` `ml-deploy [--local] COMMAND` ``: an operator pastes it as is, on the backend they use."""
    local = " --local" if getattr(args, "local", False) else ""
    return f"`ml-deploy{local} {command}`"
