"""Settings of the storage puller: flags of `modelplane storage pull`, or `MODELPLANE_STORAGE_*`."""

from __future__ import annotations

from typing import Annotated

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from modelplane.flags import Flag
from modelplane.logs import LoggingSettings


class StorageSettings(LoggingSettings):
    """Endpoints and credentials; AWS_* variables are read by boto3 itself."""

    model_config = SettingsConfigDict(
        env_prefix="MODELPLANE_STORAGE_", extra="ignore", populate_by_name=True
    )

    s3_endpoint: Annotated[str | None, Flag(metavar="URL")] = Field(
        default=None,
        # S3_ENDPOINT first: a storage Secret's key (the init container's envFrom) points one
        # model at its own endpoint over the operator's default (MODELPLANE_STORAGE_S3_ENDPOINT)
        validation_alias=AliasChoices(
            "s3_endpoint", "S3_ENDPOINT", "MODELPLANE_STORAGE_S3_ENDPOINT"
        ),
        description="S3 API endpoint (MinIO, Ceph...); env S3_ENDPOINT wins over the default",
    )
    s3_region: str | None = Field(default=None, description="S3 region")
    gcs_endpoint: Annotated[str, Flag(metavar="URL")] = Field(
        default="https://storage.googleapis.com", description="GCS JSON API endpoint"
    )
    gcs_token: Annotated[str | None, Flag(hidden=True)] = Field(
        default=None,
        validation_alias=AliasChoices("MODELPLANE_STORAGE_GCS_TOKEN", "GOOGLE_OAUTH_ACCESS_TOKEN"),
        description="GCS OAuth token (env only: a flag would show in the pod spec)",
    )
    http_timeout: Annotated[float, Flag(metavar="SECONDS")] = Field(
        default=300.0, description="timeout of each HTTP request"
    )
