"""The monitor's entry point and its modes: check (the default), summarize, merge, backfill.

python -m retrain_job.monitor [check] [--window-hours 24] [--end 2026-11-23T10:00Z] ...  (--help)
python -m retrain_job.monitor summarize|merge --shard-manifest s3://bucket/key   (Batch fan-out)
python -m retrain_job.monitor backfill --from 2026-11-01T00:00Z --to 2026-11-08T00:00Z
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from ml_deploy.settings import MonitorSettings
from retrain_job.common import EXIT_INVALID_INPUT, JobClients, run_job
from retrain_job.monitor import fanout
from retrain_job.monitor.hours import summarize_hour
from retrain_job.monitor.job import (
    EXIT_CHECKED,
    MonitorInputError,
    load_catalog,
    log_bucket_of,
    plan_window,
    run,
    submit_fan_out,
)

MODES = ("check", "summarize", "merge", "backfill")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m retrain_job.monitor [MODE]`; user errors are printed once, no traceback.

    Modes: check (the default: judge the window), summarize and merge (the fan-out's array
    children and the job after them, `--shard-manifest s3://...`), backfill (`--from T --to T`:
    rebuild the summaries of the closed hours in [from, to)).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    mode = args.pop(0) if args and args[0] in MODES else "check"
    parser = argparse.ArgumentParser(prog=f"{MonitorSettings.PROG} {mode}", add_help=False)
    parser.add_argument("--shard-manifest")
    parser.add_argument("--from", dest="start", type=_utc_time)
    parser.add_argument("--to", dest="end", type=_utc_time)
    try:
        extra, rest = parser.parse_known_args(args)
    except SystemExit:
        return EXIT_INVALID_INPUT
    return run_job("monitor", lambda: _dispatch(mode, extra, MonitorSettings.from_args(rest)))


def _dispatch(mode: str, extra: argparse.Namespace, settings: MonitorSettings) -> int:
    if mode in ("summarize", "merge") and not extra.shard_manifest:
        raise MonitorInputError(f"{mode} needs --shard-manifest s3://bucket/key")
    if mode == "summarize":
        clients = JobClients(settings)
        done = fanout.summarize_shard(clients.s3, settings, url=extra.shard_manifest,
                                      catalog=load_catalog(clients.s3, settings), index=None)  # fmt: skip
        print(f"summarized {done} log object(s) of shard {os.environ.get(fanout.ARRAY_INDEX, '0')}")
        return EXIT_CHECKED
    if mode == "merge":
        clients = JobClients(settings)
        then = fanout.merge_shards(clients.s3, settings, url=extra.shard_manifest,
                                   catalog=load_catalog(clients.s3, settings))  # fmt: skip
        return run(settings) if then == "check" else EXIT_CHECKED
    if mode == "backfill":
        if not (extra.start and extra.end and extra.start < extra.end):
            raise MonitorInputError("backfill needs --from and --to, ISO 8601 times with from < to")
        return backfill(settings, start=extra.start, end=extra.end)
    return run(settings)


def _utc_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected an ISO 8601 time, e.g. 2026-11-23T10:00Z"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def backfill(
    settings: MonitorSettings, *, start: datetime, end: datetime, now: datetime | None = None
) -> int:
    """Rebuild the summaries of every closed hour in [start, end), fanning out when large."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    clients = JobClients(settings)
    catalog = load_catalog(clients.s3, settings)
    stale = [
        hour for hour in plan_window(clients.s3, settings, window=(start, end), now=now) if hour.summarizable
    ]
    if fanout.wanted(settings, stale):
        return submit_fan_out(clients, settings, stale=stale, run_id=run_id, then="backfill")
    for hour in stale:
        summarize_hour(clients.s3, settings, bucket=log_bucket_of(settings), hour=hour, catalog=catalog)
    span = f"[{start:%Y-%m-%dT%H:%MZ}, {end:%Y-%m-%dT%H:%MZ})"
    print(f"backfill: summarized {len(stale)} closed hour(s) in {span}")
    return EXIT_CHECKED
