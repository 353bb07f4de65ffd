"""Running the server under uvicorn: one process, or several sharing one port.

Several processes each bind the port with SO_REUSEPORT, so the kernel spreads new
connections over them evenly (with one socket shared by all, the first process awake took
every connection of a burst). They are separate nodes in every other way: PostgreSQL and
Redis connect them, as in docs/deploy.md; but for their metrics, which each keeps in files
of a directory the parent makes and removes, so that a scrape of any of them counts all
(hallway/metrics.py).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

import uvicorn
from fastapi import FastAPI
from prometheus_client import multiprocess

from hallway.api.app import create_app
from hallway.api.connection_counts import ConnectionCounts
from hallway.api.http_edge import EdgeLimits, http_edge
from hallway.api.realtime import MAX_CLIENT_FRAME_BYTES
from hallway.api.realtime_protocol import RealtimeProtocol
from hallway.api.routes.metrics import MULTIPROCESS_DIR_VARIABLE
from hallway.config import Settings
from hallway.logs import log_config

log = logging.getLogger("hallway.serving")


@dataclass(frozen=True)
class Listen:
    host: str
    port: int
    log_level: str


def tune_gc() -> None:
    # Fan-out allocates a few short-lived objects per delivery. At the default threshold the
    # collector's full passes over every connection's objects, thousands of them with many
    # subscribers, took a large share of the CPU; collecting less often keeps those passes
    # rare (docs/notes/performance.md).
    gc.set_threshold(50_000, 20, 100)


def edge_limits(settings: Settings) -> EdgeLimits:
    return EdgeLimits(
        max_head_bytes=settings.max_request_head_bytes,
        head_timeout_seconds=settings.request_head_timeout_seconds,
        connections=ConnectionCounts(
            settings.max_connections_per_address, settings.connection_cap_exempt
        ),
    )


def uvicorn_config(app: FastAPI, settings: Settings, listen: Listen) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=listen.host,
        port=listen.port,
        log_level=listen.log_level,
        log_config=log_config(settings.log_format),
        # A line per request is Hallway's own (hallway/api/request_log.py), with its id.
        access_log=False,
        # Head size and time limits and the cap per address, in front of uvicorn's own
        # HTTP protocol (hallway/api/http_edge.py: why uvicorn's options don't do it).
        http=http_edge(edge_limits(settings)),
        timeout_keep_alive=settings.keep_alive_timeout_seconds,
        ws=RealtimeProtocol,
        # Client frames are small JSON objects; uvicorn's default is 16 MiB.
        ws_max_size=MAX_CLIENT_FRAME_BYTES,
        ws_per_message_deflate=settings.ws_compression,
        # Protocol-level pings: a peer that stops answering is dropped within two intervals.
        ws_ping_interval=settings.ws_heartbeat_seconds,
        ws_ping_timeout=settings.ws_heartbeat_seconds,
        proxy_headers=True,
    )


def serve_one(
    settings: Settings, listen: Listen, *, migrate: bool, sock: socket.socket | None = None
) -> None:
    """One server process; on `sock` when given, else on a socket uvicorn binds."""
    app = create_app(settings, migrate=migrate)
    tune_gc()
    config = uvicorn_config(app, settings, listen)
    # uvicorn sets its own loggers' level; Hallway's follow the same --log-level.
    logging.getLogger("hallway").setLevel(uvicorn.config.LOG_LEVELS[listen.log_level])
    uvicorn.Server(config).run(sockets=None if sock is None else [sock])


@contextmanager
def metrics_directory() -> Iterator[str]:
    """A fresh directory for the workers' metric files, named to them by the environment
    they inherit (prometheus-client reads it when first imported, in each worker); removed
    when they are done. Files of an earlier run would be counted as of processes still
    alive, so the directory is always a new one."""
    path = tempfile.mkdtemp(prefix="hallway-metrics-")
    os.environ[MULTIPROCESS_DIR_VARIABLE] = path
    try:
        yield path
    finally:
        del os.environ[MULTIPROCESS_DIR_VARIABLE]
        shutil.rmtree(path, ignore_errors=True)


def serve_workers(listen: Listen, workers: int) -> int:
    """Run `workers` processes until they stop; 0 after a requested stop, 1 if one died."""
    with metrics_directory() as directory:
        return _run_workers(listen, workers, directory)


def _run_workers(listen: Listen, workers: int, metrics_dir: str) -> int:
    spawn = multiprocessing.get_context("spawn")
    processes = [
        spawn.Process(target=_worker, args=(listen, os.getpid()), name=f"hallway-worker-{n}")
        for n in range(workers)
    ]
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn's graceful shutdown (sockets get 1012)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.start()
    died = False
    running = {process.sentinel: process for process in processes}
    while running:
        for sentinel in wait(list(running)):
            assert isinstance(sentinel, int)  # what Process.sentinel is
            ended = running.pop(sentinel)
            ended.join()
            # Its gauges stop counting at once, while the others serve on; what its
            # counters counted stays in the sums.
            multiprocess.mark_process_dead(ended.pid, metrics_dir)  # type: ignore[no-untyped-call]
        if not stopping:
            died = True
            log.error("a worker process exited; stopping the others")
            stop(signal.SIGTERM, None)
    return 1 if died else 0


def _worker(listen: Listen, parent_pid: int) -> None:
    _stop_when_orphaned(parent_pid)
    # The parent applied the migrations.
    serve_one(Settings(), listen, migrate=False, sock=_reuse_port_socket(listen))


def _reuse_port_socket(listen: Listen) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        listen.host, listen.port, type=socket.SOCK_STREAM
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


def _stop_when_orphaned(parent_pid: int) -> None:
    """A supervisor killed outright can't stop its workers: they notice and stop themselves,
    so none is left holding the port."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()
