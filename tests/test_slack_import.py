"""`hallway import slack`: a Slack export built here becomes a company whose history, read
through the public API by an imported person who claimed their account, is Slack's; a
second run changes nothing; a broken export is refused before anything is written."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from hallway.slack_import import summary
from hallway.slack_import.emoji_names import unicode_emoji
from hallway.slack_import.mrkdwn import Mentioned, emphasis, mentioned, render
from hallway.store.database import Database
from hallway.store.tables import companies
from tests.slack_export import NOTES, T0, Export, ts
from tests.support import Directory, Person, company_rows

pytestmark = pytest.mark.anyio


def owner_url(env: dict[str, str]) -> str:
    """The database as its owner sees it: row-level security does not hold the owner."""
    return env.get("HALLWAY_MIGRATION_DATABASE_URL", env["HALLWAY_DATABASE_URL"])


def run_import(env: dict[str, str], export: Path, company: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hallway.cli", "import", "slack", str(export), "--company", company],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def invite_code(stdout: str) -> str:
    lines = stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("people claim"))
    return lines[at + 1].strip()


def skipped(stdout: str) -> dict[str, int]:
    lines = stdout.splitlines()
    start, end = (
        lines.index("skipped:"),
        next(i for i, line in enumerate(lines) if line.startswith("people claim")),
    )
    return {
        line.strip().rsplit(": ", 1)[0]: int(line.rsplit(": ", 1)[1])
        for line in lines[start + 1 : end]
    }


async def claim(client: httpx.AsyncClient, code: str, email: str) -> Person:
    """Join with the import's invite under the address Slack knew: the imported account."""
    r = await client.post(
        "/api/v1/auth/join",
        json={
            "invite_code": code,
            "email": email,
            "password": "correct horse battery",
            "display_name": "Whatever They Type",
        },
    )
    assert r.status_code == 202, r.text
    return await Directory(client).confirm(email)


def slack_time(seconds: int, micros: int = 0) -> str:
    at = datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)
    return at.isoformat().replace("+00:00", "Z")


async def company_id_named(env: dict[str, str], name: str) -> list[str]:
    db = Database(owner_url(env))
    try:
        async with db.read() as conn:
            rows = await conn.execute(select(companies.c.id).where(companies.c.name == name))
            return [r.id for r in rows]
    finally:
        await db.dispose()


async def test_a_slack_export_becomes_a_company_read_through_the_api(
    env: dict[str, str], client: httpx.AsyncClient, tmp_path: Path
) -> None:
    export = Export()
    path = export.write(tmp_path / "export.zip")
    company = f"Imported {export.tag}"
    result = run_import(env, path, company)
    assert result.returncode == 0, result.stderr
    assert "100%" in result.stderr  # the progress bar
    assert skipped(result.stdout) == {
        summary.BOT_ACCOUNT: 1,
        summary.BOT_MESSAGE: 1,
        summary.UNKNOWN_USER: 1,
        summary.CUSTOM_EMOJI: 1,
        summary.MISSING_FILE: 1,
        summary.unsupported("channel_join"): 1,
    }
    code = invite_code(result.stdout)

    ann = await claim(client, code, export.email("ann"))
    me = (await ann.get("/api/v1/me")).json()
    assert (me["display_name"], me["role"]) == ("Ann Example", "admin")
    listed = (await ann.get("/api/v1/conversations")).json()["conversations"]
    by_kind = {c["kind"]: c for c in listed}
    assert set(by_kind) == {"channel", "group", "direct"}
    assert by_kind["channel"]["title"] == "general"
    assert by_kind["group"]["title"] == "secret-plans"
    assert all(c["unread_count"] == 0 for c in listed), listed

    general = by_kind["channel"]["id"]
    page = (await ann.get(f"/api/v1/conversations/{general}/messages")).json()
    bodies = [m["body"] for m in page["messages"]]
    # The reply shows in its thread only (below); its root counts it.
    assert bodies == [
        "Hello @Bob Builder, see the plan (https://example.com/plan) & more",
        "Fixed the typo",
        "the notes",
        "and the slides\n[file not imported: slides.pdf]",
        f"the zebra{export.tag} is found by search",
    ]
    root, edited, with_file = page["messages"][:3]
    assert root["created_at"] == slack_time(T0 + 60, 123456)
    assert root["reply_count"] == 1 and root["last_reply_at"] is not None
    assert root["reactions"] == [{"emoji": "👍", "count": 2, "me": False}]
    assert edited["edited_at"] == slack_time(T0 + 300)
    assert (await ann.get(f"/api/v1/messages/{edited['id']}/edits")).json()["edits"] == []
    [file] = with_file["attachments"]
    assert (file["filename"], file["size"]) == ("notes.txt", len(NOTES))
    download = await client.get(file["url"])
    assert download.status_code == 200 and download.content == NOTES

    thread = (await ann.get(f"/api/v1/messages/{root['id']}/thread")).json()
    assert [m["body"] for m in thread["replies"]] == ["On it"]
    (reply,) = thread["replies"]
    assert reply["thread_root_id"] == root["id"]
    assert root["reply_user_ids"] == [reply["sender_id"]]
    followed = (await ann.get("/api/v1/threads")).json()["threads"]
    assert all(t["unread_reply_count"] == 0 for t in followed)

    found = (await ann.get("/api/v1/search", params={"q": f"zebra{export.tag}"})).json()
    assert [r["message"]["conversation_id"] for r in found["results"]] == [general]

    # The log holds what the messages say, so catching up from seq 0 rebuilds them.
    log = (await ann.get(f"/api/v1/conversations/{general}/events", params={"limit": 1000})).json()
    kinds = [e["kind"] for e in log["events"]]
    assert kinds[0] == "member.added"
    assert kinds.count("message.created") == len(bodies) + 1  # and the reply
    assert kinds.count("reaction.added") == 2
    created = {e["data"]["id"]: e for e in log["events"] if e["kind"] == "message.created"}
    for message in page["messages"]:
        assert created[message["id"]]["seq"] == message["seq"]
        assert created[message["id"]]["data"]["body"] == message["body"]
    assert [e["seq"] for e in log["events"]] == list(range(1, log["last_seq"] + 1))
    assert log["last_seq"] == page["last_seq"]

    private = (await ann.get(f"/api/v1/conversations/{by_kind['group']['id']}/messages")).json()
    assert [m["body"] for m in private["messages"]] == ["private plans"]
    direct = (await ann.get(f"/api/v1/conversations/{by_kind['direct']['id']}/messages")).json()
    assert [m["body"] for m in direct["messages"]] == ["hi Ann"]

    # Bob reacted: his claimed account sees his reaction as his.
    bob = await claim(client, code, export.email("bob"))
    again = (await bob.get(f"/api/v1/messages/{root['id']}")).json()
    assert again["reactions"] == [{"emoji": "👍", "count": 2, "me": True}]


async def test_importing_twice_changes_nothing(
    env: dict[str, str], client: httpx.AsyncClient, tmp_path: Path
) -> None:
    export = Export()
    path = export.write(tmp_path / "export.zip")
    company = f"Twice {export.tag}"
    first = run_import(env, path, company)
    assert first.returncode == 0, first.stderr
    [company_id] = await company_id_named(env, company)
    before = await company_rows(owner_url(env), [company_id])
    assert len(before["messages"]) == 8  # six in general, one private, one direct
    second = run_import(env, path, company)
    assert second.returncode == 0, second.stderr
    assert "brought up to date" in second.stdout
    assert await company_id_named(env, company) == [company_id]
    assert await company_rows(owner_url(env), [company_id]) == before
    assert invite_code(second.stdout) == invite_code(first.stdout)
    assert skipped(second.stdout)[summary.ALREADY] == 8


def without_links(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **m,
            "attachments": [
                {k: v for k, v in a.items() if not k.endswith("url")} for a in m["attachments"]
            ],
        }
        for m in messages
    ]


async def test_a_later_export_adds_only_what_is_new(
    env: dict[str, str], client: httpx.AsyncClient, tmp_path: Path
) -> None:
    export = Export()
    company = f"Later {export.tag}"
    first = run_import(env, export.write(tmp_path / "first.zip"), company)
    assert first.returncode == 0, first.stderr
    ann = await claim(client, invite_code(first.stdout), export.email("ann"))
    listed = (await ann.get("/api/v1/conversations")).json()["conversations"]
    general = next(c["id"] for c in listed if c["title"] == "general")
    direct = next(c["id"] for c in listed if c["kind"] == "direct")
    before = (await ann.get(f"/api/v1/conversations/{general}/messages")).json()

    # The next export: a new day in general, and the pair's DM under another Slack id.
    later = [{"type": "message", "ts": ts(T0 + 2 * 86_400), "user": "U02BOB", "text": "news"}]
    again = {"type": "message", "ts": ts(T0 + 2 * 86_400), "user": "U01ANN", "text": "hi again"}
    dms = [*export.dms(), {"id": "D02ANNBOB", "members": ["U01ANN", "U02BOB"]}]
    second = run_import(
        env,
        export.write(
            tmp_path / "second.zip",
            extra={
                "general/2024-01-04.json": later,
                "dms.json": dms,
                "D02ANNBOB/2024-01-04.json": [again],
            },
        ),
        company,
    )
    assert second.returncode == 0, second.stderr
    after = (await ann.get(f"/api/v1/conversations/{general}/messages")).json()
    # Signed file links carry their own expiry: the same file, asked again later, has
    # another link.
    assert without_links(after["messages"][:-1]) == without_links(before["messages"])
    assert after["messages"][-1]["body"] == "news"
    assert after["messages"][-1]["seq"] == before["last_seq"] + 1
    still = (await ann.get("/api/v1/conversations")).json()["conversations"]
    assert len(still) == len(listed)
    pair = (await ann.get(f"/api/v1/conversations/{direct}/messages")).json()
    assert [m["body"] for m in pair["messages"]] == ["hi Ann", "hi again"]


async def test_a_claimed_account_cannot_be_claimed_again(
    env: dict[str, str], client: httpx.AsyncClient, tmp_path: Path
) -> None:
    export = Export()
    result = run_import(env, export.write(tmp_path / "export.zip"), f"Claimed {export.tag}")
    assert result.returncode == 0, result.stderr
    code = invite_code(result.stdout)
    ann = await claim(client, code, export.email("ann"))
    r = await client.post(
        "/api/v1/auth/join",
        json={
            "invite_code": code,
            "email": export.email("ann"),
            "password": "another password",
            "display_name": "Mallory",
        },
    )
    assert r.status_code == 202  # answered alike; the mail tells the owner it is taken
    login = await client.post(
        "/api/v1/auth/login",
        json={"email": export.email("ann"), "password": "correct horse battery"},
    )
    assert login.status_code == 200 and login.json()["user"]["id"] == ann.id
    # Cat left the Slack workspace: imported deactivated, her account is nobody's to claim.
    cat = await client.post(
        "/api/v1/auth/join",
        json={
            "invite_code": code,
            "email": export.email("cat"),
            "password": "correct horse battery",
            "display_name": "Cat",
        },
    )
    assert cat.status_code == 202
    with pytest.raises(LookupError):
        await Directory(client).confirm(export.email("cat"))


@pytest.mark.parametrize("damage", ["not a zip", "truncated", "no users.json", "bad json"])
async def test_a_broken_export_is_refused_and_changes_nothing(
    env: dict[str, str], tmp_path: Path, damage: str
) -> None:
    export = Export()
    path = tmp_path / "export.zip"
    if damage == "not a zip":
        path.write_bytes(b"PK\x03\x04 this is not really a zip file")
    elif damage == "truncated":
        whole = export.write(tmp_path / "whole.zip").read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
    elif damage == "no users.json":
        export.write(path, without="users.json")
    else:
        export.write(path)
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("general/2024-01-04.json", b"[{not json")
    company = f"Broken {export.tag}"
    result = run_import(env, path, company)
    assert result.returncode == 1
    expected = {
        "not a zip": "is not a readable zip file",
        "truncated": "is not a readable zip file",
        "no users.json": "it has no users.json",
        "bad json": "general/2024-01-04.json in the export is not valid JSON",
    }[damage]
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert await company_id_named(env, company) == []


async def test_a_company_of_that_name_from_elsewhere_is_never_written_into(
    env: dict[str, str], client: httpx.AsyncClient, tmp_path: Path
) -> None:
    export = Export()
    name = f"Taken {export.tag}"
    await Directory(client).company(name)
    result = run_import(env, export.write(tmp_path / "export.zip"), name)
    assert result.returncode == 1
    assert "was not imported from this Slack workspace" in result.stderr
    [company_id] = await company_id_named(env, name)
    rows = await company_rows(owner_url(env), [company_id])
    assert (len(rows["users"]), len(rows["conversations"])) == (1, 0)


def test_mrkdwn_renders_as_plain_text() -> None:
    people, channels = {"U1": "Ann Lee"}, {"C1": "general"}
    assert render("<@U1> <@U2|bob> <#C1> <#C9|random>", people, channels) == (
        "@Ann Lee @bob #general #random"
    )
    assert render("<!here> <!channel> <!subteam^S1|@devs>", people, channels) == (
        "@here @channel @devs"
    )
    assert render("<https://x.test|docs> <https://y.test>", people, channels) == (
        "docs (https://x.test) https://y.test"
    )
    assert render("<mailto:a@b.test|a@b.test> 1 &lt; 2 &amp;&amp; 3 &gt; 2", {}, {}) == (
        "a@b.test 1 < 2 && 3 > 2"
    )


@pytest.mark.parametrize(
    ("slack", "hallway"),
    [
        ("*bold*", "**bold**"),
        ("~strike~", "~~strike~~"),
        ("_italic_", "_italic_"),
        ("a *b* c ~d~ e _f_", "a **b** c ~~d~~ e _f_"),
        ("(*bold*), ~gone~.", "(**bold**), ~~gone~~."),
        ("*bold _and italic_*", "**bold _and italic_**"),
        ("*two words* and *more*", "**two words** and **more**"),
        ("*a*b*", "**a*b**"),  # the first mark that can close, closes
        # Not emphasis: inside a word, around spaces, empty, across lines, unclosed.
        ("2*3*4", "2*3*4"),
        ("a * b * c", "a * b * c"),
        ("snake_case_name", "snake_case_name"),
        ("file_name_here.txt", "file_name_here.txt"),
        ("x~y~z and ~/a ~/b", "x~y~z and ~/a ~/b"),
        ("* a*", "* a*"),
        ("*a *", "*a *"),
        ("**", "**"),
        ("*bold*s", "*bold*s"),
        ("*one\ntwo*", "*one\ntwo*"),
        ("*unclosed", "*unclosed"),
        # Markdown already: a run of marks is left alone.
        ("**bold** ~~gone~~", "**bold** ~~gone~~"),
        # Code is never touched, and emphasis goes around it.
        ("`*not bold*` *bold*", "`*not bold*` **bold**"),
        ("```\n*not bold* ~not~\n``` *bold*", "```\n*not bold* ~not~\n``` **bold**"),
        ("```*a* ~b~```", "```*a* ~b~```"),
        ("*`code` in bold*", "**`code` in bold**"),
        # A reference is one character: its address and label are never changed.
        ("<https://x.test/*a*/~b~|*c*>", "<https://x.test/*a*/~b~|*c*>"),
        ("*<@U1>* ~<#C1>~", "**<@U1>** ~~<#C1>~~"),
    ],
)
def test_slack_emphasis_becomes_markdown(slack: str, hallway: str) -> None:
    assert emphasis(slack) == hallway


def test_emphasis_goes_around_references_and_leaves_their_addresses() -> None:
    people = {"U1": "Ann Lee"}
    assert render("*<@U1>* see <https://x.test/a*b*c|the *doc*>", people, {}) == (
        "**@Ann Lee** see the *doc* (https://x.test/a*b*c)"
    )


@given(st.text(alphabet=st.characters(blacklist_characters="*~")))
def test_text_without_star_or_tilde_is_unchanged(text: str) -> None:
    assert emphasis(text) == text


@given(st.text(alphabet=st.characters(blacklist_characters="`\n"), min_size=1))
def test_inline_code_is_never_changed(code: str) -> None:
    assert emphasis(f"*a* `{code}` ~b~") == f"**a** `{code}` ~~b~~"


def test_mrkdwn_references_name_people_and_broadcasts() -> None:
    assert mentioned("<@U1> <@U2|bob> <!here> <!everyone> <!subteam^S1|@devs> <#C1>") == (
        Mentioned(frozenset({"U1", "U2"}), frozenset({"here", "everyone"}))
    )
    assert mentioned("no one, @U1 typed by hand") == Mentioned(frozenset(), frozenset())


async def test_imported_emphasis_renders_and_mentions_are_listed(
    env: dict[str, str], client: httpx.AsyncClient, tmp_path: Path
) -> None:
    export = Export()
    day = T0 + 3 * 86_400
    formatted = "*bold* _italic_ ~gone~ `*code*` snake_case_name"
    extra = {
        "general/2024-01-05.json": [
            {"type": "message", "ts": ts(day), "user": "U01ANN", "text": formatted},
            {
                "type": "message",
                "ts": ts(day + 60),
                "user": "U02BOB",
                "text": "<!everyone> <@U01ANN> <@U02BOB> the release",
            },
        ],
        # Cat is no member of secret-plans: her mention names nobody; Bob's own neither.
        "secret-plans/2024-01-05.json": [
            {
                "type": "message",
                "ts": ts(day + 120),
                "user": "U02BOB",
                "text": "<@U01ANN> <@U03CAT> <@U02BOB> <!here> look",
            }
        ],
    }
    company = f"Styled {export.tag}"
    result = run_import(env, export.write(tmp_path / "export.zip", extra=extra), company)
    assert result.returncode == 0, result.stderr
    code = invite_code(result.stdout)
    ann = await claim(client, code, export.email("ann"))
    listed = (await ann.get("/api/v1/conversations")).json()["conversations"]
    general = next(c["id"] for c in listed if c["title"] == "general")
    secret = next(c["id"] for c in listed if c["title"] == "secret-plans")
    # Imported history is read history: it counts no mention for anyone.
    assert all((c["unread_count"], c["mention_count"]) == (0, 0) for c in listed), listed

    history = (await ann.get(f"/api/v1/conversations/{general}/messages")).json()["messages"]
    styled, everyone = history[-2:]
    assert styled["body"] == "**bold** _italic_ ~~gone~~ `*code*` snake_case_name"
    assert styled["body_html"] == (
        "<p><strong>bold</strong> <em>italic</em> <s>gone</s> <code>*code*</code>"
        " snake_case_name</p>\n"
    )
    assert (styled["mentions"], styled["mention_kind"]) == ([], None)
    assert everyone["body"] == "@everyone @Ann Example @Bob Builder the release"
    assert (everyone["mentions"], everyone["mention_kind"]) == ([ann.id], "channel")
    private = (await ann.get(f"/api/v1/conversations/{secret}/messages")).json()["messages"]
    looked = private[-1]
    assert looked["body"] == "@Ann Example @Cat Former @Bob Builder @here look"
    assert (looked["mentions"], looked["mention_kind"]) == ([ann.id], "here")

    mine = (await ann.get("/api/v1/mentions")).json()["mentions"]
    assert [(m["conversation_id"], m["message"]["id"]) for m in mine] == [
        (secret, looked["id"]),
        (general, everyone["id"]),
    ]
    bob = await claim(client, code, export.email("bob"))
    bobs = (await bob.get("/api/v1/mentions")).json()["mentions"]
    # Ann's greeting (the export's first message) names him; his own @everyone does not.
    assert [m["message"]["body"] for m in bobs] == [
        "Hello @Bob Builder, see the plan (https://example.com/plan) & more"
    ]

    # The log says what history says, and the import writes no event besides.
    log = (await ann.get(f"/api/v1/conversations/{secret}/events")).json()["events"]
    assert [e["kind"] for e in log] == ["member.added", "message.created", "message.created"]
    assert {k: log[-1]["data"][k] for k in ("mentions", "mention_kind")} == (
        {"mentions": [ann.id], "mention_kind": "here"}
    )


def test_slack_emoji_names() -> None:
    assert unicode_emoji("+1") == unicode_emoji("thumbsup") == "👍"
    assert unicode_emoji("+1::skin-tone-2") == "👍🏻"
    assert unicode_emoji("simple_smile") == "🙂"
    assert unicode_emoji("party_parrot") is None
    assert unicode_emoji("+1::skin-tone-9") is None
