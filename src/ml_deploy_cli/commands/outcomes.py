"""`ml-deploy upload-outcomes FILE`: what really happened to scored records, for the quality job.

Every row is checked against the outcome contract (`ml_deploy.outcomes`) before anything is
written; bad rows are counted and the first few named, one line each, never silently dropped. A
file without one valid row is an error. The valid rows are written as one object per day
observed, all or none, under the outcomes prefix of the prediction-log bucket.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml_deploy import outcomes
from ml_deploy.layout import DEFAULT_LAYOUT
from ml_deploy_cli.backend import Connect
from ml_deploy_cli.errors import CliError

SHOWN_BAD_ROWS = 10


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "upload-outcomes",
        help="validate observed outcomes (CSV or JSON lines) and upload them for the quality job",
        description=(
            "Each row names a scored record (request_id + record_index, or the caller's key) and gives "
            f"its label ({' or '.join(map(str, outcomes.CLASSES))}) and observed_at (ISO 8601 with a zone)."
        ),
    )
    parser.add_argument(
        "file", type=Path, metavar="FILE", help="a .csv file with a header row, or JSON lines"
    )
    parser.add_argument(
        "--format", choices=("csv", "jsonl"), default=None, help="the file's format (default: by its suffix)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, connect: Connect) -> int:
    path: Path = args.file
    kind = args.format or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    validated = outcomes.validate_rows(read_rows(path, kind=kind), now=datetime.now(UTC))
    for number, reason in validated.bad[:SHOWN_BAD_ROWS]:
        print(f"{path}: row {number}: {reason}", file=sys.stderr)
    if len(validated.bad) > SHOWN_BAD_ROWS:
        print(f"{path}: ... and {len(validated.bad) - SHOWN_BAD_ROWS} more bad rows", file=sys.stderr)
    if not validated.records:
        raise CliError(f"{path}: no valid outcome to upload ({len(validated.bad)} bad rows); nothing written")
    objects = outcomes.encode_objects(validated.records, prefix=DEFAULT_LAYOUT.outcomes_prefix)
    urls = connect().upload_outcomes(objects)
    print(f"uploaded {len(validated.records)} outcomes in {len(urls)} object(s), one per day observed:")
    for url in urls:
        print(f"  {url}")
    if validated.bad:
        print(f"skipped {len(validated.bad)} bad rows (listed above); fix them and upload them again")
    return 0


def read_rows(path: Path, *, kind: str) -> Iterator[tuple[int, Any]]:
    """(row number, row) of the file; a JSON line that does not parse is a row that says so."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as error:
        raise CliError(f"{path}: cannot read: {error.strerror}") from None
    with handle:
        if kind == "csv":
            reader = csv.DictReader(handle)
            for row in reader:
                yield reader.line_num, row
            return
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                yield number, outcomes.OutcomeError(f"not JSON: {error.msg} at column {error.colno}")
