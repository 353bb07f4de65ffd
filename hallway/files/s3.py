"""Files in an S3-compatible bucket, for deployments of several app processes.

boto3 in worker threads rather than an asyncio S3 client: it is the reference client, its
managed transfer uploads large files in parallel parts from the staged file, and an upload or
download costs only a few calls, so a thread per call is cheap. (aioboto3 pins exact
botocore versions and trails them, which makes dependency upgrades a chore.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from hallway.config import Settings
from hallway.files.storage import ObjectMissing

READ_CHUNK_BYTES = 256 * 1024
DELETE_BATCH = 1000  # the most one DeleteObjects request takes
_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3Storage:
    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.s3_bucket
        self.region = settings.s3_region
        self._staging_dir = settings.data_dir / "staging"
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key,
            aws_secret_access_key=settings.s3_secret_key,
            config=Config(
                s3={"addressing_style": settings.s3_addressing_style},
                retries={"mode": "standard", "max_attempts": 3},
                # Checksums only where S3 requires them: many S3-compatible servers reject
                # the newer default trailing checksums.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    @property
    def staging_dir(self) -> Path:
        return self._staging_dir

    async def start(self) -> None:
        await asyncio.to_thread(self._staging_dir.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(self._ensure_bucket)

    def _ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                raise
            options: dict[str, Any] = {"Bucket": self.bucket}
            if self.region != "us-east-1":
                options["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            self.client.create_bucket(**options)

    async def ping(self) -> None:
        await asyncio.to_thread(self.client.head_bucket, Bucket=self.bucket)

    async def put(self, key: str, source: Path, content_type: str) -> None:
        await asyncio.to_thread(
            self.client.upload_file,
            str(source),
            self.bucket,
            key,
            ExtraArgs={"ContentType": content_type},
        )
        await asyncio.to_thread(source.unlink, missing_ok=True)

    async def size(self, key: str) -> int:
        try:
            response = await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise ObjectMissing(key) from exc
            raise
        return int(response["ContentLength"])

    async def open(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        try:
            response = await asyncio.to_thread(
                self.client.get_object,
                Bucket=self.bucket,
                Key=key,
                Range=f"bytes={start}-{end - 1}",
            )
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise ObjectMissing(key) from exc
            raise
        return _chunks(response["Body"])

    async def delete(self, keys: Sequence[str]) -> None:
        for first in range(0, len(keys), DELETE_BATCH):
            batch = keys[first : first + DELETE_BATCH]
            response = await asyncio.to_thread(
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )
            if errors := response.get("Errors"):
                raise OSError(f"S3 refused to delete {len(errors)} objects: {errors[0]}")

    async def close(self) -> None:
        await asyncio.to_thread(self.client.close)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


async def _chunks(body: Any) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(body.read, READ_CHUNK_BYTES):
            yield chunk
    finally:
        await asyncio.to_thread(body.close)
