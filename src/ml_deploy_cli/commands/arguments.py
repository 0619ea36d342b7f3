"""Argument types shared by the commands: argparse prints their message as a usage error (exit 2)."""

from __future__ import annotations

import argparse
import math


def positive_number(value: str) -> float:
    """A finite number above 0 (a timeout or an interval: 0, negative or `nan` would never wait)."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not (number > 0 and math.isfinite(number)):
        raise argparse.ArgumentTypeError(f"{value} is not a number above 0")
    return number
