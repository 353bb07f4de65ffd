"""`hallway serve | migrate | create-company | create-user | backup | restore | retention run |
demo | export | import`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

from hallway.config import ConfigError, Settings
from hallway.domain import accounts, conversations, message_send, retention
from hallway.domain.actor import Actor
from hallway.domain.context import DomainContext
from hallway.domain.errors import DomainError
from hallway.domain.export_import import ImportSummary, import_hallway_export
from hallway.domain.export_jobs import find_scope
from hallway.exports.format import InvalidExport, Manifest
from hallway.exports.writer import write_export
from hallway.files.storage import open_storage
from hallway.slack_import.export import ImportFailed
from hallway.slack_import.run import Imported, import_slack
from hallway.store import backup
from hallway.store.database import Database
from hallway.store.migrate import pending_migrations, upgrade_to_head

DEMO_PASSWORD = "hallway-demo"


async def _with_ctx(settings: Settings) -> tuple[DomainContext, Database]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # The operator's commands act for no one person: as the owner, whom row-level
    # security does not hold.
    db = Database(settings.effective_migration_database_url)
    await upgrade_to_head(db)
    return DomainContext(settings=settings, db=db), db


async def _pending_migrations(settings: Settings) -> list[str]:
    db = Database(settings.effective_database_url)
    try:
        return await pending_migrations(db)
    finally:
        await db.dispose()


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from hallway.serving import Listen, serve_one, serve_workers

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if args.workers > 1 and (settings.is_sqlite or not settings.redis_url):
        print(
            "hallway: --workers needs PostgreSQL (HALLWAY_DATABASE_URL) and Redis "
            "(HALLWAY_REDIS_URL): SQLite and the in-memory broker serve one process",
            file=sys.stderr,
        )
        return 2
    # Said here in one line; the app would refuse too, but inside a server traceback.
    if args.no_migrate and (pending := asyncio.run(_pending_migrations(settings))):
        print(
            f"hallway: the database is {len(pending)} migration(s) behind; "
            "run `hallway migrate` first",
            file=sys.stderr,
        )
        return 2
    listen = Listen(args.host, args.port, args.log_level)
    if args.workers == 1:
        serve_one(settings, listen, migrate=not args.no_migrate)
        return 0
    if not args.no_migrate:
        cmd_migrate(settings, args)
    return serve_workers(listen, args.workers)


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    async def run() -> None:
        db = Database(settings.effective_migration_database_url)
        try:
            await upgrade_to_head(db)
        finally:
            await db.dispose()

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(run())
    print("database is at the latest schema")
    return 0


def cmd_create_company(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password if args.password is not None else getpass.getpass("password: ")

    async def run() -> dict[str, object]:
        ctx, db = await _with_ctx(settings)
        try:
            return await accounts.create_company(
                ctx,
                company_name=args.name,
                email=args.email,
                display_name=args.display_name,
                password=password,
            )
        finally:
            await db.dispose()

    admin = asyncio.run(run())
    print(f"created company {admin['company_id']} with admin {admin['email']} ({admin['id']})")
    return 0


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password
    if password is None and args.external_id is None:
        password = getpass.getpass("password: ")

    async def run() -> dict[str, object]:
        ctx, db = await _with_ctx(settings)
        try:
            return await accounts.create_user(
                ctx,
                company_id=args.company_id,
                email=args.email,
                display_name=args.display_name,
                password=password,
                role=args.role,
                external_id=args.external_id,
            )
        finally:
            await db.dispose()

    user = asyncio.run(run())
    print(f"created {user['role']} {user['email']} ({user['id']})")
    return 0


async def seed_demo(ctx: DomainContext) -> None:
    """A company with four people, a channel, a group and a direct conversation."""
    admin = await accounts.create_company(
        ctx,
        company_name="Demo Co",
        email="ada@demo.hallway",
        password=DEMO_PASSWORD,
        display_name="Ada Lovelace",
    )
    company_id = str(admin["company_id"])
    ada = Actor(str(admin["id"]), company_id, "admin")
    people = [ada]
    for email, name in (
        ("grace@demo.hallway", "Grace Hopper"),
        ("alan@demo.hallway", "Alan Turing"),
        ("edsger@demo.hallway", "Edsger Dijkstra"),
    ):
        user = await accounts.create_user(
            ctx, company_id=company_id, email=email, display_name=name, password=DEMO_PASSWORD
        )
        people.append(Actor(str(user["id"]), company_id, "member"))
    everyone = [p.user_id for p in people]
    general, _ = await conversations.create_conversation(
        ctx, ada, kind="channel", title="general", member_ids=everyone
    )
    group, _ = await conversations.create_conversation(
        ctx, ada, kind="group", title="compilers", member_ids=everyone[:3]
    )
    direct, _ = await conversations.create_conversation(
        ctx, people[1], kind="direct", title=None, member_ids=[ada.user_id]
    )
    grace, alan, edsger = people[1:]
    handbook = "Welcome to **Hallway**, everyone! The handbook: https://example.com/handbook"
    entry_point = (
        "I can. The entry point is:\n"
        "```\ndef parse(tokens):\n    return Parser(tokens).module()\n```"
    )
    script = [
        (general, ada, handbook),
        (general, alan, "Glad to be here."),
        (group, grace, "Who is reviewing the new parser?"),
        (group, alan, entry_point),
        (direct, grace, "Coffee at three?"),
    ]
    for conversation, sender, body in script:
        await message_send.send_message(ctx, sender, conversation["id"], body=body)
    question, _ = await message_send.send_message(
        ctx, grace, general["id"], body="@Ada Lovelace can we ship the release on _Friday_?"
    )
    for sender, body in ((ada, "Yes, once the tests are green."), (edsger, "I'll review today.")):
        await message_send.send_message(
            ctx, sender, general["id"], body=body, thread_root_id=question["id"]
        )


def cmd_demo(settings: Settings, _args: argparse.Namespace) -> int:
    async def run() -> None:
        ctx, db = await _with_ctx(settings)
        try:
            await seed_demo(ctx)
        finally:
            await db.dispose()

    try:
        asyncio.run(run())
    except DomainError as exc:
        if exc.code == "email_taken":
            print("the demo company exists already")
            return 0
        raise
    print("demo company created. Log in at http://127.0.0.1:8000 as any of")
    print("  ada@demo.hallway (admin), grace@demo.hallway, alan@demo.hallway,")
    print(f"  edsger@demo.hallway -- password: {DEMO_PASSWORD}")
    return 0


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    report = backup.backup(settings, Path(args.to))
    print(
        f"backup written to {report.folder}: database {report.database_bytes} bytes, "
        f"{report.files} files"
    )
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    report = backup.restore(settings, Path(args.source))
    print(f"restored from {report.folder}: {report.files} files; run `hallway migrate` next")
    return 0


@asynccontextmanager
async def _with_storage(settings: Settings) -> AsyncIterator[DomainContext]:
    """`_with_ctx` with the file storage started, for the commands that move files."""
    ctx, db = await _with_ctx(settings)
    ctx.storage = open_storage(settings)
    try:
        await ctx.storage.start()
        yield ctx
    finally:
        await ctx.storage.close()
        await db.dispose()


def cmd_retention_run(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> retention.RetentionReport:
        async with _with_storage(settings) as ctx:
            return await retention.run_retention(ctx, dry_run=args.dry_run)

    report = asyncio.run(run())
    if not report.ran:
        print("another node is running retention now; nothing done")
        return 0
    verb = "would erase" if report.dry_run else "erased"
    for found in report.conversations:
        print(
            f"conversation {found.conversation_id} (company {found.company_id}), before "
            f"{found.cutoff:%Y-%m-%d %H:%M} UTC: {verb} {found.messages} messages, "
            f"{found.files} files; {found.events} events of the log"
            + (" (archived first)" if found.archive else "")
        )
    print(
        f"{verb} {report.messages} messages and {report.files} files, and "
        f"{'would drop' if report.dry_run else 'dropped'} {report.events} events, in "
        f"{len(report.conversations)} conversations ({report.seconds:.1f} s)"
    )
    if report.archived_days:
        print(f"archived {len(report.archived_days)} days of messages before erasing them")
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    target = Path(args.out)
    if target.exists():
        print(f"hallway: {target} exists already; name a new file", file=sys.stderr)
        return 2

    async def run() -> Manifest:
        async with _with_storage(settings) as ctx:
            scope = await find_scope(
                ctx.db, company_id=args.company, conversation_id=args.conversation, since=args.since
            )
            return await write_export(ctx.db, ctx.storage, scope, target)

    manifest = asyncio.run(run())
    counts = manifest.counts
    print(
        f"export written to {target}: {counts.get('messages', 0)} messages "
        f"({counts.get('deleted_messages', 0)} deleted), {counts.get('people', 0)} people, "
        f"{counts.get('conversations', 0)} conversations, {counts.get('files', 0)} files"
    )
    if manifest.missing_files:
        print(f"{len(manifest.missing_files)} files were missing from storage and are left out")
    return 0


def cmd_import_hallway(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> ImportSummary:
        async with _with_storage(settings) as ctx:
            return await import_hallway_export(ctx, Path(args.export), company_name=args.company)

    summary = asyncio.run(run())
    where = "a new company" if summary.company_created else "the company of an earlier import"
    added = ", ".join(f"{n} {k}" for k, n in sorted(summary.added.items()) if n) or "nothing"
    print(f"imported into {where}, {summary.company_id}: added {added}")
    for reason, n in sorted(summary.skipped.items()):
        print(f"  {n} x {reason.replace('_', ' ')}")
    print("imported people have no password: an admin sends each one a password-reset link")
    return 0


def cmd_import_slack(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> Imported:
        async with _with_storage(settings) as ctx:
            return await import_slack(ctx, ctx.storage, Path(args.export), args.company, sys.stderr)

    imported = asyncio.run(run())
    made = "created" if imported.created else "brought up to date"
    print(f"company {imported.company_id} ({args.company}) {made}")
    for line in imported.summary.lines():
        print(line)
    print(
        "people claim their accounts by joining with this invite code, under the address "
        f"Slack knew them by (until {imported.invite_expires_at:%Y-%m-%d %H:%M} UTC):"
    )
    print(f"  {imported.invite_code}")
    base = (settings.public_url or "").rstrip("/")
    if base:
        print(f"  {base}/#join={imported.invite_code}")
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a day as YYYY-MM-DD") from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hallway", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
    )
    serve.add_argument(
        "--no-migrate", action="store_true", help="refuse to start if migrations are pending"
    )
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="server processes sharing the port (PostgreSQL + Redis only; default 1)",
    )
    serve.set_defaults(run=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply pending database migrations")
    migrate.set_defaults(run=cmd_migrate)

    create_company = sub.add_parser(
        "create-company", help="a new company and its first admin (no mail needed)"
    )
    create_company.add_argument("--name", required=True)
    create_company.add_argument("--email", required=True)
    create_company.add_argument("--display-name", required=True)
    create_company.add_argument("--password", help="prompted for when omitted")
    create_company.set_defaults(run=cmd_create_company)

    create_user = sub.add_parser("create-user", help="add a person to an existing company")
    create_user.add_argument("--company-id", required=True)
    create_user.add_argument("--email", required=True)
    create_user.add_argument("--display-name", required=True)
    create_user.add_argument("--password", help="prompted for when omitted")
    create_user.add_argument("--role", choices=["admin", "member"], default="member")
    create_user.add_argument("--external-id", help="the identity provider's `sub` for them")
    create_user.set_defaults(run=cmd_create_user)

    take = sub.add_parser(
        "backup", help="copy the database (and local files) while the server runs"
    )
    take.add_argument("--to", required=True, help="a new folder for the backup")
    take.set_defaults(run=cmd_backup)

    give = sub.add_parser(
        "restore", help="replace the database (and local files) with a backup; servers stopped"
    )
    give.add_argument("--from", dest="source", required=True, help="a folder `backup` wrote")
    give.set_defaults(run=cmd_restore)

    retention_job = sub.add_parser("retention", help="apply the retention policies")
    retention_sub = retention_job.add_subparsers(dest="action", required=True)
    retention_run = retention_sub.add_parser("run", help="erase what has expired, now")
    retention_run.add_argument(
        "--dry-run", action="store_true", help="print what would be removed; change nothing"
    )
    retention_run.set_defaults(run=cmd_retention_run)

    demo = sub.add_parser("demo", help="seed a demo company and print how to log in")
    demo.set_defaults(run=cmd_demo)

    export = sub.add_parser(
        "export", help="write a company's or a conversation's export (a zip; docs/exports.md)"
    )
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("--company", metavar="ID", help="the whole company")
    which.add_argument("--conversation", metavar="ID", help="one conversation")
    export.add_argument("--since", type=_day, help="only messages from this day (UTC) on")
    export.add_argument("out", metavar="OUT", help="the zip file to write (must not exist)")
    export.set_defaults(run=cmd_export)

    importing = sub.add_parser("import", help="bring a team's history in from elsewhere")
    kinds = importing.add_subparsers(dest="kind", required=True, metavar="KIND")
    from_hallway = kinds.add_parser(
        "hallway", help="a Hallway export (`hallway export`, the API) into a company of its own"
    )
    from_hallway.add_argument("export", metavar="EXPORT", help="the export's zip file")
    from_hallway.add_argument(
        "--company", required=True, metavar="NAME", help="the new company's name"
    )
    from_hallway.set_defaults(run=cmd_import_hallway)
    from_slack = kinds.add_parser(
        "slack", help="a Slack workspace export (zip) as a company; see docs/import.md"
    )
    from_slack.add_argument("export", metavar="EXPORT.zip", help="the export Slack made")
    from_slack.add_argument(
        "--company", required=True, help="the company's name (made on the first run)"
    )
    from_slack.set_defaults(run=cmd_import_slack)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
        settings.check()
        return int(args.run(settings, args))
    except ConfigError as exc:
        print(f"hallway: configuration error: {exc}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"hallway: {exc.message}", file=sys.stderr)
        return 1
    except (backup.BackupFailed, InvalidExport, ImportFailed) as exc:
        print(f"hallway: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
