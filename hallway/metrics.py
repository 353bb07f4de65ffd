"""Every Prometheus metric the server keeps, in one place (docs/operations.md, "Metrics").

They live in prometheus-client's default registry, as module objects that the code counting
them imports. With several processes (`hallway serve --workers N`) the parent points
PROMETHEUS_MULTIPROC_DIR at a directory of its own before it starts them, so each process
keeps its values in files there and a scrape of any one of them adds up all
(hallway/api/routes/metrics.py). The variable must be set before prometheus-client is first
imported, which is why the parent sets it and its children, started fresh, see it.

Gauges add up over the live processes (`livesum`): a process that ended stops counting.
Counters and histograms keep what ended processes counted.

Counting stays off the per-socket path: fan-out counts once per event for all its sockets
(`inc(n)`), and the children of labelled metrics that hot paths use are bound here, once.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# --- realtime ------------------------------------------------------------------------------

REALTIME_CONNECTIONS = Gauge(
    "hallway_realtime_connections",
    "Realtime sockets open now, past the WebSocket handshake (authenticated or not).",
    multiprocess_mode="livesum",
)
REALTIME_SUBSCRIPTIONS = Gauge(
    "hallway_realtime_subscriptions",
    "Conversation subscriptions of the open realtime sockets.",
    multiprocess_mode="livesum",
)
EVENTS_PUBLISHED = Counter(
    "hallway_events_published",
    "Committed conversation events handed to the broker by this deployment.",
)
EVENTS_DELIVERED = Counter(
    "hallway_events_delivered",
    "Event frames written to sockets: `live` as the feed dispatched them, `inbox` as a "
    "notice to members not subscribed, `replay` from the log when a socket subscribed.",
    ["path"],
)
DELIVERED_LIVE = EVENTS_DELIVERED.labels(path="live")
DELIVERED_INBOX = EVENTS_DELIVERED.labels(path="inbox")
DELIVERED_REPLAY = EVENTS_DELIVERED.labels(path="replay")
FANOUT_SECONDS = Histogram(
    "hallway_fanout_duration_seconds",
    "Time to write one event to every local socket that gets it.",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
)
SLOW_CONSUMER_CLOSES = Counter(
    "hallway_realtime_slow_consumer_closes",
    "Sockets closed with 4008 because their unread frames passed HALLWAY_WS_SEND_BUFFER_BYTES.",
)
BROKER_RECONNECTS = Counter(
    "hallway_broker_reconnects",
    "Connections to Redis made again after one was lost or could not be made.",
    ["connection"],
)
GAP_FILL_EVENTS = Counter(
    "hallway_gap_fill_events",
    "Events read back from the log because the broker did not bring them: `gap`, a later "
    "seq arrived first; `check`, the periodic comparison with the log found a feed behind.",
    ["cause"],
)
GAP_FILLS_GAP = GAP_FILL_EVENTS.labels(cause="gap")
GAP_FILLS_CHECK = GAP_FILL_EVENTS.labels(cause="check")

# --- limits --------------------------------------------------------------------------------

RATE_LIMIT_REFUSALS = Counter(
    "hallway_rate_limit_refusals",
    "Requests and socket frames refused by a rate limit (429 or a rate_limited frame), and "
    "sockets refused for too many per person (`ws-connections`), by limit.",
    ["limit"],
)

# --- HTTP ----------------------------------------------------------------------------------

HTTP_REQUEST_SECONDS = Histogram(
    "hallway_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_RESPONSES = Counter(
    "hallway_http_responses",
    "HTTP answers by route template and status.",
    ["method", "route", "status"],
)

# --- database ------------------------------------------------------------------------------

DB_POOL_CONNECTIONS = Gauge(
    "hallway_db_pool_connections",
    "PostgreSQL connections of the pools: `checked_out` in use (statement connections held "
    "between statements included), `idle` open in the pool.",
    ["state"],
    multiprocess_mode="livesum",
)
DB_POOL_CHECKED_OUT = DB_POOL_CONNECTIONS.labels(state="checked_out")
DB_POOL_IDLE = DB_POOL_CONNECTIONS.labels(state="idle")
DB_POOL_CAPACITY = Gauge(
    "hallway_db_pool_capacity",
    "The most PostgreSQL connections the pools may open (HALLWAY_DB_POOL_SIZE, twice, per "
    "process).",
    multiprocess_mode="livesum",
)

# --- the event loop ------------------------------------------------------------------------

# Fine below a few milliseconds: the benchmark suite reads its p99 from a scrape.
EVENT_LOOP_LAG = Histogram(
    "hallway_event_loop_lag_seconds",
    "How late the event loop ran a timer due every few milliseconds (hallway/loop_lag.py).",
    buckets=(
        0.0005,
        0.001,
        0.002,
        0.003,
        0.005,
        0.0075,
        0.01,
        0.015,
        0.02,
        0.03,
        0.05,
        0.1,
        0.25,
        0.5,
        1.0,
    ),
)
