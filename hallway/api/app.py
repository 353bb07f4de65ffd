"""The ASGI application: wires settings, database, broker, hub and storage to the routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

import hallway
from hallway.api.body_limit import BodyLimit
from hallway.api.errors import install_error_handlers
from hallway.api.export_runner import ExportRunner
from hallway.api.openapi import install_openapi
from hallway.api.realtime import HUB_STATE_KEY
from hallway.api.realtime_route import realtime_route
from hallway.api.request_log import RequestLog
from hallway.api.routes import (
    auth,
    conversations,
    exports,
    files,
    messages,
    metrics,
    notifications,
    ops,
    people,
    profiles,
    retention,
    search,
    threads,
)
from hallway.api.web_client import WebClientMount, diagnostics_route
from hallway.config import Settings
from hallway.domain.attachment_cleanup import sweep_forever
from hallway.domain.context import DomainContext
from hallway.domain.rate_limits import RateLimits
from hallway.domain.retention import retention_forever
from hallway.files.staging import remove_orphaned
from hallway.files.storage import open_storage
from hallway.loop_lag import LoopLagMonitor
from hallway.mail import open_mailer
from hallway.realtime.broker import Broker, MemoryBroker
from hallway.realtime.hub import Hub, HubPublisher
from hallway.realtime.presence import MemoryPresence, Presence, RedisPresence
from hallway.realtime.redis_broker import RedisBroker
from hallway.realtime.redis_outage import RedisOutageLog
from hallway.store import search_index
from hallway.store.database import Database
from hallway.store.migrate import pending_migrations, upgrade_to_head
from hallway.store.pool_metrics import record_pool_use_forever

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


class MigrationsPending(RuntimeError):
    pass


def _broker_and_presence(settings: Settings, outage: RedisOutageLog) -> tuple[Broker, Presence]:
    if settings.redis_url:
        return RedisBroker(settings.redis_url, outage), RedisPresence(
            settings.redis_url, settings.presence_ttl_seconds, outage
        )
    return MemoryBroker(), MemoryPresence()


async def _migrate(settings: Settings, db: Database) -> None:
    """Migrate as the tables' owner: HALLWAY_MIGRATION_DATABASE_URL's role when the app's
    own is one that row-level security holds."""
    if settings.effective_migration_database_url == settings.effective_database_url:
        await upgrade_to_head(db)
        return
    owner = Database(settings.effective_migration_database_url, pool_size=1)
    try:
        await upgrade_to_head(owner)
    finally:
        await owner.dispose()


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    """Build the app. With migrate=False, pending migrations stop startup instead of running."""
    settings = settings or Settings()
    settings.check()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.effective_database_url, pool_size=settings.db_pool_size)
        if migrate:
            await _migrate(settings, db)
        elif pending := await pending_migrations(db):
            raise MigrationsPending(f"run `hallway migrate` first: {len(pending)} pending")
        if await db.detect_row_security():
            log.info("row-level security holds the database role: acting as each person")
        # One log for everything that uses Redis, so an outage is one line when it begins
        # and one when it ends.
        outage = RedisOutageLog()
        broker, presence = _broker_and_presence(settings, outage)
        # Returns while Redis is away too: the node serves, not ready, until it is back.
        await broker.start()
        storage = open_storage(settings)
        await storage.start()
        if orphaned := await asyncio.to_thread(remove_orphaned, storage.staging_dir):
            log.info("removed %d staged uploads of processes that stopped", orphaned)
        ctx = DomainContext(
            settings=settings,
            db=db,
            storage=storage,
            mailer=open_mailer(settings),
            rate_limits=RateLimits(settings, outage),
        )
        ctx.publisher = HubPublisher(broker, ctx.links)
        hub = Hub(ctx, broker, presence, settings)
        await hub.start()
        app.state.ctx, app.state.broker, app.state.hub = ctx, broker, hub
        app.state.presence = presence
        app.state.exports = ExportRunner(ctx)
        await app.state.exports.resume()
        background = [
            asyncio.create_task(sweep_forever(ctx)),
            asyncio.create_task(record_pool_use_forever(db)),
        ]
        if settings.retention_interval_seconds:
            background.append(
                asyncio.create_task(retention_forever(ctx, settings.retention_interval_seconds))
            )
        loop_lag = LoopLagMonitor()
        loop_lag.start()
        if db.is_sqlite:
            background.append(asyncio.create_task(search_index.index_forever(db)))
        try:
            # hallway serve's realtime protocol finds the hub here (lifespan state reaches
            # the server); the ASGI route finds it on app.state.
            yield {HUB_STATE_KEY: hub}
        finally:
            loop_lag.stop()
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.exports.stop()
            await storage.close()
            await ctx.rate_limits.close()
            await hub.close()
            await broker.close()
            await presence.close()
            await db.dispose()

    # The routers' routes as one flat list, in this order. include_router would wrap each
    # router in a branch that FastAPI walks route by route, twice, for every request
    # (matching, then handling), work that grows with the number of routers and that the
    # smallest requests paid for most. The routers carry their prefix, tags and error
    # responses themselves, so the routes are the same. Messages come first: a request
    # tries the routes in order, and sends and history windows are most of the requests.
    routes = [
        route
        for router in (
            messages.router,
            conversations.router,
            auth.router,
            people.router,
            profiles.router,
            files.router,
            search.router,
            threads.router,
            retention.router,
            notifications.router,
            exports.router,
            ops.router,
            metrics.router,
        )
        for route in router.routes
    ]
    routes.append(realtime_route())
    app = FastAPI(
        routes=routes,
        title="Hallway",
        version=hallway.__version__,
        description="Realtime messaging for a virtual office. Errors always answer "
        '`{"error": {"code", "message", "details"}}`.',
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    # Outermost of Hallway's: every answer, errors of the layers within included, has its id.
    app.add_middleware(RequestLog, log_each=settings.access_log)
    if (WEB_DIR / "index.html").exists():
        app.router.routes.append(diagnostics_route(WEB_DIR))
        app.router.routes.append(WebClientMount(WEB_DIR))
    return app
