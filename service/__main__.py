"""`python -m service`: check settings and bundle, then run uvicorn with WEB_CONCURRENCY workers.

The bundle is verified and its model made to score records of its manifest here, before any worker
starts, so a bad deploy (a tampered file, or a sound file holding the wrong model) exits 2 at once with
one line saying why (the ECS deployment circuit breaker then rolls it back) instead of every
worker failing its startup in a loop.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ml_deploy.bundle import BundleError, Manifest, read_bundle
from ml_deploy.settings import ServiceSettings, SettingsError

EXIT_REFUSED = 2
GRACEFUL_SHUTDOWN_SECONDS = 10


def prepare_multiprocess_metrics(workers: int) -> None:
    """Point prometheus-client at a clean shared directory when several workers serve."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if workers == 1 and not directory:
        return
    if not directory:
        directory = tempfile.mkdtemp(prefix="prometheus-multiproc-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):  # values of a previous run would be summed into this one
        stale.unlink()


def check_bundle(settings: ServiceSettings) -> Manifest:
    """Verify the bundle and make its model answer records of its manifest; BundleError if not."""
    from service.model import ModelService  # imports sklearn: after the settings check

    model = ModelService(
        read_bundle(settings.model_bundle_path), unknown_category=settings.unknown_category,
        max_batch_size=settings.max_batch_size,
    )  # fmt: skip
    model.check_answers(model.load_check_records())
    return model.manifest


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    try:
        settings = ServiceSettings.from_env()
        manifest = check_bundle(settings)
    except (SettingsError, BundleError) as error:
        print(f"model service refusing to start: {error}", file=sys.stderr)
        return EXIT_REFUSED
    # Set before any worker imports numpy/sklearn; the model wrapper also pins it via threadpoolctl.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    prepare_multiprocess_metrics(settings.web_concurrency)
    print(
        f"model service: bundle {manifest.bundle_version} verified, starting {settings.web_concurrency} "
        f"worker(s) on {settings.host}:{settings.port}",
        file=sys.stderr,
    )
    import uvicorn

    uvicorn.run(
        "service.app:app_from_env",
        factory=True,
        http="service.lingering:LingeringHttpToolsProtocol",  # refusals reach the client, not a reset
        host=settings.host,
        port=settings.port,
        workers=settings.web_concurrency,
        log_level=settings.log_level,
        access_log=False,  # per-request lines cost CPU and CloudWatch money; metrics count requests
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
