"""Service settings, read once from environment variables so ECS task definitions configure everything."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_BUNDLE_PATH = Path("/opt/model/model-bundle.zip")


class SettingsError(ValueError):
    """An environment variable has a value the service cannot use; the message names it."""


class Settings(BaseModel):
    """Every knob of the service; `from_env` maps each field to the variable named in its alias."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    model_bundle_path: Path = Field(DEFAULT_BUNDLE_PATH, alias="MODEL_BUNDLE_PATH")
    host: str = Field("0.0.0.0", alias="HOST")
    port: int = Field(8080, ge=1, le=65535, alias="PORT")
    web_concurrency: int = Field(1, ge=1, le=64, alias="WEB_CONCURRENCY")
    max_batch_size: int = Field(1000, ge=1, le=100_000, alias="MAX_BATCH_SIZE")
    # How long a request may wait for concurrent ones to share its model call (only when requests
    # have recently arrived together; a lone request never waits). 0 turns the wait off.
    max_batch_wait_ms: float = Field(2.0, ge=0, le=50, alias="MAX_BATCH_WAIT_MS")
    unknown_category: Literal["reject", "missing"] = Field("reject", alias="UNKNOWN_CATEGORY")
    environment: str = Field("dev", min_length=1, alias="ENVIRONMENT")
    code_version: str = Field("unknown", alias="CODE_VERSION")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field("info", alias="LOG_LEVEL")
    log_bucket: str | None = Field(None, alias="LOG_BUCKET")
    log_prefix: str | None = Field(None, alias="LOG_PREFIX")
    log_batch_size: int = Field(1000, ge=1, alias="LOG_BATCH_SIZE")
    log_flush_seconds: float = Field(10.0, gt=0, alias="LOG_FLUSH_SECONDS")
    log_buffer_max_records: int = Field(100_000, ge=1, alias="LOG_BUFFER_MAX_RECORDS")
    log_retry_base_seconds: float = Field(0.5, gt=0, alias="LOG_RETRY_BASE_SECONDS")
    log_retry_max_seconds: float = Field(30.0, gt=0, alias="LOG_RETRY_MAX_SECONDS")
    # ECS kills a stopping task after its stopTimeout (30 s by default); the final flush must fit.
    log_shutdown_timeout_seconds: float = Field(20.0, ge=0, alias="LOG_SHUTDOWN_TIMEOUT_SECONDS")
    aws_region: str | None = Field(None, alias="AWS_REGION")

    @model_validator(mode="after")
    def _log_prefix_default(self) -> Settings:
        if self.log_prefix is None:
            object.__setattr__(self, "log_prefix", f"predictions/{self.environment}/")
        elif self.log_prefix and not self.log_prefix.endswith("/"):
            object.__setattr__(self, "log_prefix", f"{self.log_prefix}/")
        return self

    @property
    def payload_logging(self) -> bool:
        return bool(self.log_bucket)

    @property
    def partition_prefix(self) -> str:
        return self.log_prefix or ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `environ` (default `os.environ`); empty variables count as unset."""
        environ = os.environ if environ is None else environ
        values: dict[str, str] = {}
        for field in cls.model_fields.values():
            alias = field.alias or ""
            if environ.get(alias):
                values[alias] = environ[alias]
        if "CODE_VERSION" not in values and environ.get("GIT_COMMIT"):
            values["CODE_VERSION"] = environ["GIT_COMMIT"]
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in item['loc'])}={item.get('input')!r}: {item['msg']}"
                for item in error.errors()
            )
            raise SettingsError(f"bad service environment: {problems}") from None
