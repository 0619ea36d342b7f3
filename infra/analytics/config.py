"""What the query settings mean and accept: the Athena workgroup analysts query the logs through.

Read into `AnalyticsConfig` by `infra/config.py`; `infra/analytics/` gets this section only.
"""

from __future__ import annotations

from pydantic import Field

from infra.section import Section

# Athena refuses a smaller per-query cutoff (WorkGroupConfiguration, BytesScannedCutoffPerQuery:
# "Minimum value of 10000000",
# https://docs.aws.amazon.com/athena/latest/APIReference/API_WorkGroupConfiguration.html).
MIN_BYTES_SCANNED_CUTOFF = 10_000_000
DEFAULT_BYTES_SCANNED_CUTOFF = 100 * 1024**3


class AnalyticsConfig(Section):
    """How much one query of the workgroup may read before Athena cancels it."""

    athena_bytes_scanned_cutoff: int = Field(
        DEFAULT_BYTES_SCANNED_CUTOFF,
        ge=MIN_BYTES_SCANNED_CUTOFF,
        json_schema_extra={"accepts": "bytes, at least 10000000 (Athena's minimum)"},
        description=(
            "Bytes one Athena query of the stack's workgroup may scan before it is cancelled "
            "(default 100 GiB); Athena bills by the bytes scanned."
        ),
    )
