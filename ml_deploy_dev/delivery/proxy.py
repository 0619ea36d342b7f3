"""Each environment's stable address: a TCP forwarder to the task the state names as running.

It stands in for the load balancer in front of an ECS service: a deploy or a rollback moves the
traffic by writing the new task's port into the state; connections opened after that reach it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ml_deploy_cli.errors import CliError
from ml_deploy_cli.local.state import read_checked_state


@contextmanager
def load_balancer(state_file: Path, environment: str, *, port: int) -> Iterator[str]:
    """Forward 127.0.0.1:`port` to the environment's running task until the block ends."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stopping: list[asyncio.Future[None]] = []

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        target = _target_port(state_file, environment)
        if target is None:
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    async def serve() -> None:
        server = await asyncio.start_server(forward, "127.0.0.1", port)
        stopping.append(loop.create_future())
        started.set()
        async with server:
            await stopping[0]

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(stopping[0].set_result, None)
        thread.join(10)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


def _target_port(state_file: Path, environment: str) -> int | None:
    try:
        record = read_checked_state(state_file).environments.get(environment)
    except CliError:
        return None
    return record.running.port if record and record.running else None
