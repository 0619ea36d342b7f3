"""A service's CloudWatch Logs, read the way `aws logs tail` does: FilterLogEvents over the streams
of one prefix from a start time, and, to follow, again from the newest event seen."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ml_deploy_cli.delivery import LogLine, LogPage


def read_events(logs: Any, *, group: str, stream_prefix: str, since: datetime, cursor: str | None) -> LogPage:
    """Events at or after `since` (or the cursor's time), without those the cursor already gave."""
    start, seen = _position(cursor, since=since)
    request: dict[str, Any] = {"logGroupName": group, "startTime": start}
    if stream_prefix:
        request["logStreamNamePrefix"] = stream_prefix
    events: list[dict[str, Any]] = []
    for page in logs.get_paginator("filter_log_events").paginate(**request):
        events += [
            event
            for event in page.get("events", [])
            # The prefix is checked here too: a stand-in (moto) may not filter by it.
            if event.get("eventId") not in seen
            and str(event.get("logStreamName", "")).startswith(stream_prefix)
        ]
    events.sort(key=lambda event: (int(event.get("timestamp", 0)), str(event.get("eventId", ""))))
    lines = [
        LogLine(
            at=datetime.fromtimestamp(int(event["timestamp"]) / 1000, tz=UTC)
            if "timestamp" in event
            else None,
            source=str(event.get("logStreamName", "")).rsplit("/", 1)[-1],
            message=str(event.get("message", "")).rstrip("\n"),
        )
        for event in events
    ]
    return LogPage(lines=lines, cursor=_cursor(events, start=start, seen=seen))


def _position(cursor: str | None, *, since: datetime) -> tuple[int, set[str]]:
    if cursor is None:
        return int(since.timestamp() * 1000), set()
    saved = json.loads(cursor)
    return int(saved["start"]), set(saved["seen"])


def _cursor(events: list[dict[str, Any]], *, start: int, seen: set[str]) -> str:
    """The newest time read, and the ids read at that time (more may still arrive with it)."""
    if not events:
        return json.dumps({"start": start, "seen": sorted(seen)})
    newest = max(int(event.get("timestamp", start)) for event in events)
    at_newest = {str(e.get("eventId")) for e in events if int(e.get("timestamp", start)) == newest}
    return json.dumps({"start": newest, "seen": sorted(at_newest | (seen if newest == start else set()))})
