"""Reading a Dockerfile as its instructions: there is no Docker engine here, so tests read the file."""

from __future__ import annotations

import re
from pathlib import Path


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def stages(path: Path) -> list[list[tuple[str, str]]]:
    """The instructions of each build stage, in order; a stage opens at its FROM."""
    found: list[list[tuple[str, str]]] = []
    for keyword, args in instructions(path):
        if keyword == "FROM" or not found:
            found.append([])
        found[-1].append((keyword, args))
    return found


def base_image(from_args: str) -> str:
    """The image of a FROM, without its `AS <stage>` name."""
    return from_args.split()[0]
