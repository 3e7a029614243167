"""Configuration: every setting the functions read, from environment variables, validated once.

Only this module reads ``os.environ``. Secret *values* are never settings: the functions get the
secret's ARN (``DB_SECRET_ID``) and fetch the value at run time through the cached provider.
"""

from __future__ import annotations

import functools
import os
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _FromEnvironment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class OrdersTableSettings(_FromEnvironment):
    orders_table_name: str = Field(alias="ORDERS_TABLE_NAME", min_length=1)


class DatabaseSettings(_FromEnvironment):
    """How a function in the VPC reaches MySQL: RDS Proxy and the app user's secret, unless it says otherwise."""

    db_host: str = Field(alias="DB_HOST", min_length=1)
    db_port: int = Field(default=3306, alias="DB_PORT", gt=0, lt=65536)
    db_name: str = Field(alias="DB_NAME", min_length=1, pattern=r"^[A-Za-z0-9_]{1,64}$")  # safe as an identifier
    db_secret_id: str = Field(alias="DB_SECRET_ID", min_length=1)
    db_tls: bool = Field(default=True, alias="DB_TLS")
    # proxy: RDS Proxy's ACM certificate, which the runtime's trust store verifies; rds: the cluster's own,
    # signed by an RDS root no public store holds (the rotation function signs in to the cluster directly).
    db_tls_trust: Literal["proxy", "rds"] = Field(default="proxy", alias="DB_TLS_TRUST")
    db_connect_timeout_seconds: int = Field(default=3, alias="DB_CONNECT_TIMEOUT_SECONDS", gt=0)
    db_read_timeout_seconds: int = Field(default=5, alias="DB_READ_TIMEOUT_SECONDS", gt=0)
    secret_max_age_seconds: int = Field(default=300, alias="SECRET_MAX_AGE_SECONDS", ge=0)


class DayIndexSettings(OrdersTableSettings):
    """The index the rollup reads a day from; a day's orders spread over `order_day_shards` of its partitions.
    Only ever raise the count: the rollup reads the shards the current count names."""

    orders_by_day_index: str = Field(default="by-day-shard", alias="ORDERS_BY_DAY_INDEX")
    order_day_shards: int = Field(alias="ORDER_DAY_SHARDS", ge=1, le=1000)


class LateDaysSettings(_FromEnvironment):
    late_days_table_name: str = Field(alias="LATE_DAYS_TABLE_NAME", min_length=1)


# One model per function: each names what that function reads, so its template entry gives it that and no more.
class ApiSettings(OrdersTableSettings, DatabaseSettings):
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=1)
    idempotency_ttl_seconds: int = Field(default=3600, alias="IDEMPOTENCY_TTL_SECONDS", gt=0)
    orders_queue_url: str = Field(alias="ORDERS_QUEUE_URL", min_length=1)
    # How stale a price may be: a change reaches every environment within this many seconds (0: no cache).
    catalog_max_age_seconds: int = Field(default=60, alias="CATALOG_MAX_AGE_SECONDS", ge=0, le=3600)


class ConsumerSettings(DayIndexSettings, LateDaysSettings):
    """Outside the VPC: DynamoDB only, no database settings."""

    batch_write_max_attempts: int = Field(default=5, alias="BATCH_WRITE_MAX_ATTEMPTS", ge=1, le=10)
    batch_write_base_delay_ms: int = Field(default=50, alias="BATCH_WRITE_BASE_DELAY_MS", ge=0)
    batch_write_max_delay_ms: int = Field(default=1000, alias="BATCH_WRITE_MAX_DELAY_MS", ge=0)


class RollupSettings(DayIndexSettings, LateDaysSettings, DatabaseSettings):
    rollup_readers: int = Field(default=8, alias="ROLLUP_READERS", ge=1, le=64)  # shards read at once
    # More than one: the scheduled run hands the day's shards to this many runs of the function (asynchronous
    # invocations of ROLLUP_FUNCTION_NAME), each reading its share; a day too big for one run's Timeout.
    rollup_runs: int = Field(default=1, alias="ROLLUP_RUNS", ge=1, le=1000)
    rollup_function_name: str | None = Field(default=None, alias="ROLLUP_FUNCTION_NAME", min_length=1)

    @model_validator(mode="after")
    def _runs_need_the_functions_name(self) -> RollupSettings:
        if self.rollup_runs > 1 and self.rollup_function_name is None:
            raise ValueError("ROLLUP_RUNS above 1 needs ROLLUP_FUNCTION_NAME: the function the runs are handed to")
        if self.rollup_runs > self.order_day_shards:
            raise ValueError("ROLLUP_RUNS cannot exceed ORDER_DAY_SHARDS: a run reads whole shards")
        return self

    rollup_query_page_size: int = Field(default=500, alias="ROLLUP_QUERY_PAGE_SIZE", ge=1, le=1000)


class MigrationSettings(DatabaseSettings):
    """Signs in as the master user (its DB_SECRET_ID) and creates the app user of APP_DB_SECRET_ID, when given."""

    app_db_secret_id: str | None = Field(default=None, alias="APP_DB_SECRET_ID")


class RotationSettings(DatabaseSettings):
    """New passwords as the secret's GenerateSecretString made the first."""

    password_length: int = Field(default=32, alias="PASSWORD_LENGTH", ge=16, le=4096)
    password_exclude_characters: str = Field(default="", alias="PASSWORD_EXCLUDE_CHARACTERS")


FUNCTION_SETTINGS: tuple[type[_FromEnvironment], ...] = (
    ApiSettings,
    ConsumerSettings,
    RollupSettings,
    MigrationSettings,
    RotationSettings,
)
S = TypeVar("S", bound=_FromEnvironment)


class TracingSettings(BaseModel):
    """What the tracer needs: read at INIT, apart from the per-invocation trace header."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    disabled: bool = Field(default=False, alias="POWERTOOLS_TRACE_DISABLED")
    daemon_address: str | None = Field(default=None, alias="AWS_XRAY_DAEMON_ADDRESS")  # set by Tracing: Active
    service_name: str = Field(default="service_undefined", alias="POWERTOOLS_SERVICE_NAME")
    function_name: str | None = Field(default=None, alias="AWS_LAMBDA_FUNCTION_NAME")
    function_version: str | None = Field(default=None, alias="AWS_LAMBDA_FUNCTION_VERSION")
    region: str | None = Field(default=None, alias="AWS_REGION")

    @property
    def enabled(self) -> bool:
        return not self.disabled and bool(self.daemon_address)


@functools.cache
def get_tracing_settings() -> TracingSettings:
    return TracingSettings.model_validate(os.environ)


def current_trace_header() -> str | None:
    """Lambda sets `_X_AMZN_TRACE_ID` anew for every invocation (Root, Parent, Sampled): read it each time."""
    return os.environ.get("_X_AMZN_TRACE_ID")


@functools.cache
def get_settings(model: type[S]) -> S:
    """Parse the environment once per execution environment and model; a bad variable fails the cold start loudly."""
    return model.model_validate(os.environ)
