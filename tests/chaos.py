"""The chaos run: two `hallway serve` nodes on PostgreSQL and a private Redis, people sending
over HTTP and listening over WebSockets, while nodes are SIGKILLed and restarted, Redis is
restarted and client sockets are cut. Afterwards nothing acknowledged may be lost or stored
twice, and every listener's application must have seen every event once, in order.

    python -m tests.chaos [--seconds 90] [--strict-wire]

Not a pytest suite (the file is not test_*.py); CI (.ci/run) runs it after `make test`.
The database is `hallway_chaos_<pid>` on HALLWAY_TEST_DATABASE_URL's server, dropped at the
end whatever happens. Exit code 0: `chaos: ok`; 1: `chaos: FAILED: <reasons>`.

--strict-wire also fails the run on what the client repaired: any hole on the wire (an event
that arrived ahead of a missing one), or more re-subscribes than holes. The client sends one
subscribe per hole, so more would mean re-subscribe storms are back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from sqlalchemy import func, select

from hallway.client import RealtimeClient
from hallway.store import tables as t
from hallway.store.database import Database
from hallway.store.migrate import upgrade_to_head
from tests.support import (
    MAIL_OUTBOX,
    SECRET,
    TEST_RATE_LIMITS,
    Directory,
    Person,
    ServerProcess,
    create_run_database,
    drop_run_database,
    free_port,
    run_database_url,
)

PASSWORD = "correct horse battery"  # what tests.support.Directory signs people up with
REDIS_SERVER = "/usr/bin/redis-server"
SEND_TIMEOUT_SECONDS = 5.0
NODE_DOWN_SECONDS = 3.0
REDIS_DOWN_SECONDS = 3.0
CATCH_UP_SECONDS = 30.0
# A send still unacknowledged this long after the senders were told to stop is given up.
SEND_GIVE_UP_SECONDS = 30.0


def parse_options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--seconds", type=float, default=90.0, help="how long the chaos lasts")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="hard limit for the whole run, setup included"
    )
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--listeners", type=int, default=6)
    parser.add_argument(
        "--rate", type=float, default=10.0, help="messages per second per sender, at most"
    )
    parser.add_argument("--seed", type=int, default=None, help="for the random choices")
    parser.add_argument(
        "--strict-wire",
        action="store_true",
        help="also fail on any hole on the wire, or more re-subscribes than holes",
    )
    parser.add_argument(
        "--token-ttl",
        type=int,
        default=None,
        help="HALLWAY_ACCESS_TOKEN_TTL_SECONDS for the nodes (>= 60): tokens expire during "
        "the run, and listeners renew them from a login",
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        help="keep the nodes' and Redis's logs here (else in a temporary directory, removed)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("HALLWAY_TEST_DATABASE_URL", "postgresql://127.0.0.1:5432/test"),
        help="a PostgreSQL server to create the run's database on",
    )
    return parser.parse_args(argv)


# --- the processes -------------------------------------------------------------------------


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class PrivateRedis:
    """A redis-server of this run's own, on a port chosen once so it comes back on it."""

    def __init__(self, directory: Path, logs: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.logs = logs
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.logs / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not redis_answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@dataclass
class Node:
    name: str
    server: ServerProcess
    log_path: Path
    alive: bool = False

    def start(self) -> None:
        self.server.start(timeout=60)
        self.alive = True

    def kill(self) -> None:
        self.alive = False
        self.server.kill()

    def log_tail(self, lines: int = 15) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()[-lines:]

    def tracebacks(self) -> int:
        text = self.log_path.read_text(errors="replace")
        return sum(line.startswith("Traceback") for line in text.splitlines())


def node_env(
    options: argparse.Namespace, database: str, redis: PrivateRedis, data: Path
) -> dict[str, str]:
    env = {
        "HALLWAY_DATA_DIR": str(data),
        "HALLWAY_SECRET_KEY": SECRET,
        "HALLWAY_PASSWORD_HASH_TIME_COST": "1",
        "HALLWAY_PASSWORD_HASH_MEMORY_KIB": "64",
        "HALLWAY_DATABASE_URL": run_database_url(options.database_url, database),
        "HALLWAY_REDIS_URL": redis.url,
        # Where Directory finds the links that finish its sign-ups.
        "HALLWAY_MAIL_OUTBOX_DIR": str(MAIL_OUTBOX),
        # Senders send faster than a person does (--rate); the limits stay on, so a Redis
        # restart also shows they let requests through while it is away.
        **TEST_RATE_LIMITS,
    }
    if options.token_ttl is not None:
        env["HALLWAY_ACCESS_TOKEN_TTL_SECONDS"] = str(options.token_ttl)
    return env


@contextlib.contextmanager
def nodes_running(env: dict[str, str], logs: Path) -> Iterator[list[Node]]:
    """Two nodes on ports chosen once (a restarted node comes back on its port), each
    logging to its own file; killed on the way out."""
    log_files: list[IO[bytes]] = []
    nodes: list[Node] = []
    try:
        for name in ("node-a", "node-b"):
            log_path = logs / f"{name}.log"
            log_file = log_path.open("ab")
            log_files.append(log_file)
            server = ServerProcess(env, args=["--no-migrate"], stdout=log_file, stderr=log_file)
            nodes.append(Node(name, server, log_path))
        yield nodes
    finally:
        for node in nodes:
            node.kill()
        for opened in log_files:
            opened.close()


# --- people and conversations -------------------------------------------------------------


@dataclass
class Company:
    people: list[Person]
    conversation_ids: list[str]


async def set_up_company(base_url: str, people: int) -> Company:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        directory = Directory(http)
        admin = await directory.company("Chaos")
        members = [await directory.colleague(admin, f"Person{i}") for i in range(people)]
        group = await directory.conversation(admin, "group", members, title="chaos group")
        channel = await directory.conversation(admin, "channel", members, title="chaos channel")
    return Company(members, [group["id"], channel["id"]])


def login_provider(email: str, nodes: list[Node]) -> Callable[[], Awaitable[str]]:
    """A token provider that logs in again through whichever node answers."""

    async def fresh_token() -> str:
        async with httpx.AsyncClient(timeout=SEND_TIMEOUT_SECONDS) as http:
            for node in nodes:
                with contextlib.suppress(httpx.HTTPError):
                    r = await http.post(
                        f"{node.server.base_url}/api/v1/auth/login",
                        json={"email": email, "password": PASSWORD},
                    )
                    if r.status_code == 200:
                        token: str = r.json()["access_token"]
                        return token
        raise ConnectionError("no node would log in")

    return fresh_token


# --- senders ----------------------------------------------------------------------------


class Stopping:
    """Tells senders to stop sending; a send not acknowledged SEND_GIVE_UP_SECONDS after
    that is given up (the run must end)."""

    def __init__(self) -> None:
        self.requested_at: float | None = None

    def request(self) -> None:
        self.requested_at = time.monotonic()

    @property
    def requested(self) -> bool:
        return self.requested_at is not None

    def give_up(self) -> bool:
        return (
            self.requested_at is not None
            and time.monotonic() > self.requested_at + SEND_GIVE_UP_SECONDS
        )


@dataclass
class Acknowledged:
    sender_id: str
    client_msg_id: str
    conversation_id: str
    message_id: str
    seq: int


@dataclass
class SendFigures:
    acknowledged: list[Acknowledged] = field(default_factory=list)
    created: int = 0  # answered 201
    repeated: int = 0  # answered 200: a retry of a send that had been stored
    retries: int = 0
    given_up: int = 0
    logins: int = 0  # after the token expired (--token-ttl)
    refused: list[str] = field(default_factory=list)  # answers that were neither


async def send_once(
    http: httpx.AsyncClient, node: Node, person: Person, conversation_id: str, client_msg_id: str
) -> httpx.Response | None:
    """One attempt; None when it failed in a way worth retrying elsewhere."""
    try:
        r = await http.post(
            f"{node.server.base_url}/api/v1/conversations/{conversation_id}/messages",
            json={"body": f"chaos {client_msg_id}", "client_msg_id": client_msg_id},
            headers=person.headers,
        )
    except httpx.HTTPError:
        return None
    return None if r.status_code >= 500 else r


async def send_until_acknowledged(
    http: httpx.AsyncClient,
    nodes: list[Node],
    first_node: int,
    person: Person,
    conversation_id: str,
    client_msg_id: str,
    stopping: Stopping,
    figures: SendFigures,
) -> None:
    """Send, and on any failure send the same client_msg_id again through the other node
    (after logging in again if the token expired)."""
    node = first_node
    logged_in_again = False
    while True:
        r = await send_once(http, nodes[node], person, conversation_id, client_msg_id)
        if r is not None and r.status_code == 401 and not logged_in_again:
            logged_in_again = True
            with contextlib.suppress(ConnectionError):
                person.token = await login_provider(person.email, nodes)()
                figures.logins += 1
            continue
        if r is not None and r.status_code in (200, 201):
            message = r.json()
            figures.acknowledged.append(
                Acknowledged(
                    person.id, client_msg_id, conversation_id, message["id"], message["seq"]
                )
            )
            if r.status_code == 201:
                figures.created += 1
            else:
                figures.repeated += 1
            return
        if r is not None:
            figures.refused.append(f"{client_msg_id}: {r.status_code} {r.text[:200]}")
            return
        if stopping.give_up():
            figures.given_up += 1
            return
        figures.retries += 1
        node = 1 - node
        await asyncio.sleep(0.1)


async def sender(
    index: int,
    person: Person,
    nodes: list[Node],
    conversation_ids: list[str],
    stopping: Stopping,
    rate: float,
    rng: random.Random,
    figures: SendFigures,
) -> None:
    """Sends until told to stop, through its own node first (senders alternate nodes)."""
    async with httpx.AsyncClient(timeout=SEND_TIMEOUT_SECONDS) as http:
        number = 0
        while not stopping.requested:
            conversation_id = rng.choice(conversation_ids)
            client_msg_id = f"sender{index}-{number}"
            await send_until_acknowledged(
                http, nodes, index % 2, person, conversation_id, client_msg_id, stopping, figures
            )
            number += 1
            await asyncio.sleep(1 / rate)


# --- listeners ----------------------------------------------------------------------------


@dataclass
class Listener:
    name: str
    client: RealtimeClient
    node: int
    # What the application received: per conversation, the seqs in order, and the message
    # id at each seq of a message.created.
    seqs: dict[str, list[int]] = field(default_factory=dict)
    message_ids: dict[str, dict[int, str]] = field(default_factory=dict)
    resyncs: int = 0

    async def collect(self) -> None:
        while True:
            try:
                frame = await self.client.next_frame(timeout=1.0)
            except TimeoutError:
                continue
            if frame["type"] == "resync":
                self.resyncs += 1
            if frame["type"] != "event":
                continue
            conversation_id, seq = frame["conversation_id"], frame["seq"]
            self.seqs.setdefault(conversation_id, []).append(seq)
            if frame["kind"] == "message.created":
                self.message_ids.setdefault(conversation_id, {})[seq] = frame["data"]["id"]

    def last_seen(self, conversation_id: str) -> int:
        seqs = self.seqs.get(conversation_id)
        return seqs[-1] if seqs else 0

    async def move_to(self, node: int, url: str) -> None:
        """Reconnect to this node now (the client resumes from its last seqs)."""
        self.node = node
        self.client.url = url
        await self.client.drop()


@contextlib.asynccontextmanager
async def listeners_running(
    company: Company, nodes: list[Node], count: int, first_person: int
) -> AsyncIterator[list[Listener]]:
    """Listeners spread over both nodes, each subscribed to every conversation from seq 0
    (so each must end up having seen all of them); closed on the way out."""
    listeners: list[Listener] = []
    collectors: list[asyncio.Task[None]] = []
    try:
        for index in range(count):
            person = company.people[first_person + index]
            node = index % 2
            client = RealtimeClient(
                nodes[node].server.ws_url,
                person.token,
                token_provider=login_provider(person.email, nodes),
            )
            listener = Listener(f"listener{index}", client, node)
            listeners.append(listener)
            await client.start()
            collectors.append(asyncio.create_task(listener.collect()))
            for conversation_id in company.conversation_ids:
                answer = await client.subscribe(conversation_id, after_seq=0)
                if answer["type"] != "subscribed":
                    raise RuntimeError(f"{listener.name} could not subscribe: {answer}")
        yield listeners
    finally:
        for collector in collectors:
            collector.cancel()
        for listener in listeners:
            await listener.client.close()


# --- chaos ------------------------------------------------------------------------------


@dataclass
class ChaosFigures:
    node_kills: int = 0
    redis_restarts: int = 0
    client_drops: int = 0
    failures: list[str] = field(default_factory=list)


def move_listeners_off(node: int, nodes: list[Node], listeners: list[Listener]) -> None:
    """Before a node is killed: no listener is sent to it any more, and those on it will
    reconnect to the other node."""
    nodes[node].alive = False
    other = 1 - node
    for listener in listeners:
        if listener.node == node:
            listener.node = other
            listener.client.url = nodes[other].server.ws_url


async def kill_and_restart(
    node: int, nodes: list[Node], listeners: list[Listener], figures: ChaosFigures
) -> None:
    """SIGKILL a node with listeners on it (they go to the other node and resume), then
    start it again on its port and move every other listener back to it."""
    move_listeners_off(node, nodes, listeners)
    await asyncio.to_thread(nodes[node].kill)
    figures.node_kills += 1
    print(f"chaos: killed {nodes[node].name}", flush=True)
    await asyncio.sleep(NODE_DOWN_SECONDS)
    await asyncio.to_thread(nodes[node].start)
    print(f"chaos: restarted {nodes[node].name}", flush=True)
    for listener in listeners[::2]:
        await listener.move_to(node, nodes[node].server.ws_url)
        figures.client_drops += 1


async def restart_redis(
    redis: PrivateRedis,
    nodes: list[Node],
    listeners: list[Listener],
    figures: ChaosFigures,
) -> None:
    """Kill Redis and start it again on its port; meanwhile a node is killed and started
    again, so it starts while Redis is down (and is ready once Redis is back)."""
    await asyncio.to_thread(redis.kill)
    figures.redis_restarts += 1
    print("chaos: killed redis", flush=True)
    move_listeners_off(0, nodes, listeners)
    await asyncio.to_thread(nodes[0].kill)
    figures.node_kills += 1
    restarting = asyncio.create_task(asyncio.to_thread(nodes[0].start))
    await asyncio.sleep(REDIS_DOWN_SECONDS)
    await asyncio.to_thread(redis.start)
    print("chaos: restarted redis", flush=True)
    try:
        await restarting
    except RuntimeError as exc:
        figures.failures.append(f"{nodes[0].name} did not start while Redis was down: {exc}")
        await asyncio.to_thread(nodes[0].start)


async def drop_clients(
    nodes: list[Node],
    listeners: list[Listener],
    rng: random.Random,
    figures: ChaosFigures,
) -> None:
    """Every couple of seconds cut a random listener's socket; it reconnects to a random
    live node and resumes."""
    while True:
        await asyncio.sleep(rng.uniform(1.0, 3.0))
        alive = [i for i, node in enumerate(nodes) if node.alive]
        if not alive:
            continue
        node = rng.choice(alive)
        await rng.choice(listeners).move_to(node, nodes[node].server.ws_url)
        figures.client_drops += 1


async def run_chaos(
    options: argparse.Namespace,
    redis: PrivateRedis,
    nodes: list[Node],
    listeners: list[Listener],
    rng: random.Random,
    figures: ChaosFigures,
) -> None:
    """Each node killed in turn, then Redis restarted, with client drops all along."""
    seconds = options.seconds
    dropping = asyncio.create_task(drop_clients(nodes, listeners, rng, figures))
    started = time.monotonic()

    async def at(fraction: float) -> None:
        await asyncio.sleep(max(0.0, started + seconds * fraction - time.monotonic()))

    try:
        await at(0.15)
        await kill_and_restart(0, nodes, listeners, figures)
        await at(0.4)
        await kill_and_restart(1, nodes, listeners, figures)
        await at(0.65)
        await restart_redis(redis, nodes, listeners, figures)
        await at(1.0)
    finally:
        dropping.cancel()


# --- checks -------------------------------------------------------------------------------


async def stored_messages(
    db: Database, conversation_ids: list[str]
) -> dict[tuple[str, str], list[tuple[str, int]]]:
    """(sender, client_msg_id) -> the stored (message id, seq) rows."""
    m = t.messages
    query = select(m.c.sender_id, m.c.client_msg_id, m.c.id, m.c.seq).where(
        m.c.conversation_id.in_(conversation_ids)
    )
    stored: dict[tuple[str, str], list[tuple[str, int]]] = {}
    async with db.read() as conn:
        for sender_id, client_msg_id, message_id, seq in await conn.execute(query):
            stored.setdefault((sender_id, client_msg_id), []).append((message_id, int(seq)))
    return stored


async def last_seqs(db: Database, conversation_ids: list[str]) -> dict[str, int]:
    c = t.conversations
    query = select(c.c.id, c.c.last_seq).where(c.c.id.in_(conversation_ids))
    async with db.read() as conn:
        return {cid: int(seq) for cid, seq in await conn.execute(query)}


async def message_count(db: Database, conversation_ids: list[str]) -> int:
    query = (
        select(func.count())
        .select_from(t.messages)
        .where(t.messages.c.conversation_id.in_(conversation_ids))
    )
    async with db.read() as conn:
        return int((await conn.execute(query)).scalar_one())


def check_acknowledged(
    acknowledged: list[Acknowledged], stored: dict[tuple[str, str], list[tuple[str, int]]]
) -> list[str]:
    """Every acknowledged send stored exactly once, as acknowledged."""
    lost = duplicated = different = 0
    for ack in acknowledged:
        rows = stored.get((ack.sender_id, ack.client_msg_id), [])
        if not rows:
            lost += 1
        elif len(rows) > 1:
            duplicated += 1
        elif rows[0] != (ack.message_id, ack.seq):
            different += 1
    failures = []
    if lost:
        failures.append(f"{lost} acknowledged messages not stored")
    if duplicated:
        failures.append(f"{duplicated} acknowledged messages stored more than once")
    if different:
        failures.append(f"{different} acknowledged messages stored under another id or seq")
    return failures


def check_listener(
    listener: Listener, last_seq: dict[str, int], acknowledged: list[Acknowledged]
) -> list[str]:
    """The application saw exactly seqs 1..last_seq of each conversation, in order, and
    each acknowledged message at its seq."""
    failures = []
    for conversation_id, newest in last_seq.items():
        seqs = listener.seqs.get(conversation_id, [])
        if seqs != list(range(1, newest + 1)):
            missing = len(set(range(1, newest + 1)) - set(seqs))
            repeated = len(seqs) - len(set(seqs))
            out_of_order = sum(a >= b for a, b in itertools.pairwise(seqs))
            failures.append(
                f"{listener.name} in {conversation_id[:8]}: {len(seqs)} events for seqs 1..{newest}"
                f" ({missing} missing, {repeated} repeated, {out_of_order} out of order)"
            )
    wrong = sum(
        listener.message_ids.get(ack.conversation_id, {}).get(ack.seq, ack.message_id)
        != ack.message_id
        for ack in acknowledged
    )
    if wrong:
        failures.append(
            f"{listener.name}: {wrong} events carried another message than acknowledged"
        )
    return failures


def check_wire(listeners: list[Listener]) -> list[str]:
    gaps = sum(listener.client.wire_gaps for listener in listeners)
    resubscribes = sum(listener.client.resubscribes for listener in listeners)
    failures = []
    if gaps:
        failures.append(f"{gaps} holes on the wire")
    if resubscribes > gaps:
        failures.append(f"{resubscribes} re-subscribes for {gaps} holes")
    return failures


async def wait_for_catch_up(listeners: list[Listener], last_seq: dict[str, int]) -> None:
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while time.monotonic() < deadline:
        if all(
            listener.last_seen(cid) >= newest
            for listener in listeners
            for cid, newest in last_seq.items()
        ):
            return
        await asyncio.sleep(0.2)


# --- report -------------------------------------------------------------------------------


def print_figures(
    duration: float,
    options: argparse.Namespace,
    sends: SendFigures,
    stored: int,
    chaos: ChaosFigures,
    listeners: list[Listener],
    nodes: list[Node],
) -> None:
    rows = [
        ("duration", f"{duration:.1f} s ({options.seconds:.0f} s of chaos)"),
        (
            "messages acknowledged",
            f"{len(sends.acknowledged)} (201: {sends.created}, 200: {sends.repeated})",
        ),
        ("messages stored", str(stored)),
        ("send retries", str(sends.retries)),
        ("sends given up", str(sends.given_up)),
        ("sends refused", str(len(sends.refused))),
        ("sender logins", str(sends.logins)),
        ("node kills", str(chaos.node_kills)),
        ("redis restarts", str(chaos.redis_restarts)),
        ("client drops", str(chaos.client_drops)),
        ("server log tracebacks", ", ".join(f"{n.name} {n.tracebacks()}" for n in nodes)),
    ]
    print()
    for name, value in rows:
        print(f"  {name:<24}{value}")
    print()
    print_listener_table(listeners)


LISTENER_COLUMNS = (
    "events",
    "reconnects",
    "wire gaps",
    "wire dups",
    "resubscribes",
    "token refr.",
    "resyncs",
)


def print_listener_table(listeners: list[Listener]) -> None:
    """Per listener: events its application got, and what the client saw on the wire."""
    print(f"  {'listener':<12}" + "".join(f"{h:>13}" for h in LISTENER_COLUMNS))
    totals = [0] * len(LISTENER_COLUMNS)
    for listener in listeners:
        client = listener.client
        values = [
            sum(len(seqs) for seqs in listener.seqs.values()),
            client.reconnects,
            client.wire_gaps,
            client.wire_duplicates,
            client.resubscribes,
            client.token_refreshes,
            listener.resyncs,
        ]
        totals = [a + b for a, b in zip(totals, values, strict=True)]
        print(f"  {listener.name:<12}" + "".join(f"{v:>13}" for v in values))
    print(f"  {'total':<12}" + "".join(f"{v:>13}" for v in totals))
    print()


# --- the run ------------------------------------------------------------------------------


async def run(options: argparse.Namespace, directory: Path, database: str) -> list[str]:
    """Everything but creating and dropping the database; returns what failed."""
    rng = random.Random(options.seed)
    started = time.monotonic()
    logs = options.log_dir or directory
    logs.mkdir(parents=True, exist_ok=True)
    redis = PrivateRedis(directory, logs)
    db = Database(run_database_url(options.database_url, database))
    try:
        await upgrade_to_head(db)
        await asyncio.to_thread(redis.start)
        env = node_env(options, database, redis, directory / "data")
        with nodes_running(env, logs) as nodes:
            for node in nodes:
                await asyncio.to_thread(node.start)
            company = await set_up_company(
                nodes[0].server.base_url, options.senders + options.listeners
            )
            cids = company.conversation_ids
            sends, chaos = SendFigures(), ChaosFigures()
            async with listeners_running(
                company, nodes, options.listeners, options.senders
            ) as listeners:
                stopping = Stopping()
                senders = [
                    asyncio.create_task(
                        sender(
                            i, company.people[i], nodes, cids, stopping, options.rate, rng, sends
                        )
                    )
                    for i in range(options.senders)
                ]
                try:
                    await run_chaos(options, redis, nodes, listeners, rng, chaos)
                finally:
                    stopping.request()
                    await asyncio.gather(*senders)
                newest = await last_seqs(db, cids)
                await wait_for_catch_up(listeners, newest)
                stored = await stored_messages(db, cids)
                failures = list(chaos.failures)
                failures += [f"send refused: {r}" for r in sends.refused[:5]]
                failures += check_acknowledged(sends.acknowledged, stored)
                for listener in listeners:
                    failures += check_listener(listener, newest, sends.acknowledged)
                if options.strict_wire:
                    failures += check_wire(listeners)
                print_figures(
                    time.monotonic() - started,
                    options,
                    sends,
                    await message_count(db, cids),
                    chaos,
                    listeners,
                    nodes,
                )
            if failures:
                for node in nodes:
                    print(f"  last lines of {node.name}'s log:")
                    for line in node.log_tail():
                        print(f"    {line}")
            return failures
    finally:
        redis.kill()
        await db.dispose()


async def main_async(options: argparse.Namespace) -> int:
    database = f"hallway_chaos_{os.getpid()}"
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    # A CI timeout's SIGTERM still kills the nodes and Redis and drops the database.
    loop.add_signal_handler(signal.SIGTERM, main.cancel)
    with tempfile.TemporaryDirectory(prefix="hallway-chaos-") as directory:
        await create_run_database(options.database_url, database)
        try:
            async with asyncio.timeout(options.timeout):
                failures = await run(options, Path(directory), database)
        except TimeoutError:
            failures = [f"not done within --timeout {options.timeout:.0f} s"]
        except asyncio.CancelledError:
            failures = ["stopped by SIGTERM"]
        except Exception as exc:
            traceback.print_exc()
            failures = [f"the run itself failed: {exc!r}"]
        finally:
            await drop_run_database(options.database_url, database)
            shutil.rmtree(MAIL_OUTBOX, ignore_errors=True)
    if failures:
        print("chaos: FAILED: " + "; ".join(failures))
        return 1
    print("chaos: ok")
    return 0


def main() -> int:
    options = parse_options()
    if options.seed is None:
        options.seed = random.randrange(2**32)
    print(f"chaos: {options.seconds:.0f} s, seed {options.seed}", flush=True)
    return asyncio.run(main_async(options))


if __name__ == "__main__":
    sys.exit(main())
