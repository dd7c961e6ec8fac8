"""Settings of the storage puller, from the environment (`MODELPLANE_STORAGE_*`)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StorageSettings(BaseSettings):
    """Endpoints and credentials; AWS_* variables are read by boto3 itself."""

    model_config = SettingsConfigDict(
        env_prefix="MODELPLANE_STORAGE_", extra="ignore", populate_by_name=True
    )

    s3_endpoint: str | None = Field(
        default=None, validation_alias=AliasChoices("MODELPLANE_STORAGE_S3_ENDPOINT", "S3_ENDPOINT")
    )
    s3_region: str | None = None
    gcs_endpoint: str = "https://storage.googleapis.com"
    gcs_token: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MODELPLANE_STORAGE_GCS_TOKEN", "GOOGLE_OAUTH_ACCESS_TOKEN"),
    )
    http_timeout: float = 300.0
