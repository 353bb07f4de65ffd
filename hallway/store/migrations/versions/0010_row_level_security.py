"""row-level security on PostgreSQL: the domain's tenant and membership rules, repeated

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 14:30:00.000000

A second wall behind hallway/domain/access.py (docs/architecture.md, "Row-level security").
Policies on conversations, participants (read receipts included), messages, events,
reactions, message_edits and attachments, keyed on whom a transaction acts for: the
settings `hallway.user_id` and `hallway.company_id` (hallway.store.acting). A row is
visible, and may be written, when it is of the acting company and of a conversation the
acting person takes part in; a channel's conversation row and its member list are the whole
company's to see, and anyone of it may add themselves to a channel. `hallway.system = on`
sees and writes everything, for members of the role `hallway_system` only.

RLS is enabled, not forced: the tables' owner (who runs the migrations) and superusers
bypass it, so a deployment that connects as the owner behaves as before. The policies hold
an app role that is not the owner (docs/deploy.md). SQLite has no row-level security: this
migration does nothing there.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_USER = "current_setting('hallway.user_id', true)"
_COMPANY = "current_setting('hallway.company_id', true)"
# The cheap comparison first: the role lookup runs only when the setting is on.
_SYSTEM = "(current_setting('hallway.system', true) = 'on' AND hallway_rls_system_role())"

# Conversation-scoped tables: visible and writable in a conversation one takes part in.
_MEMBER_TABLES = ("messages", "events")
# Tables of a message's: as visible as the message (the subquery is held by its policy).
_MESSAGE_TABLES = ("reactions", "message_edits")
_MESSAGE_VISIBLE = "EXISTS (SELECT 1 FROM messages AS m WHERE m.id = message_id)"
_TABLES = (
    "conversations",
    "participants",
    *_MEMBER_TABLES,
    *_MESSAGE_TABLES,
    "attachments",
)
_FUNCTIONS = (
    "hallway_rls_system_role()",
    "hallway_rls_takes_part(character varying)",
    "hallway_rls_sees(character varying)",
    "hallway_rls_may_join(character varying, character varying)",
)


def _functions(schema: str) -> list[str]:
    """The policies' helpers. The three that read participants run as the owner (SECURITY
    DEFINER), whom RLS does not hold: a policy on participants that read participants
    through RLS would recurse. They name the schema's tables in full and fix their search
    path, so that no caller's objects stand in for them."""
    definer = "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
    p, c = f'"{schema}".participants', f'"{schema}".conversations'
    return [
        # Not a definer: current_user must be the caller.
        """CREATE FUNCTION hallway_rls_system_role() RETURNS boolean
        LANGUAGE sql STABLE AS $$
            SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS r
                           WHERE r.rolname = 'hallway_system'
                             AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER'))
        $$""",
        # The acting person takes part in the conversation, which is of the acting company.
        f"""CREATE FUNCTION hallway_rls_takes_part(cid character varying) RETURNS boolean
        {definer} AS $$
            SELECT EXISTS (SELECT 1 FROM {p} AS p JOIN {c} AS c ON c.id = p.conversation_id
                           WHERE p.conversation_id = cid AND p.user_id = {_USER}
                             AND c.company_id = {_COMPANY})
        $$""",
        # ... or it is an open channel of the acting company.
        f"""CREATE FUNCTION hallway_rls_sees(cid character varying) RETURNS boolean
        {definer} AS $$
            SELECT EXISTS (SELECT 1 FROM {c} AS c
                           WHERE c.id = cid AND c.company_id = {_COMPANY}
                             AND (c.kind = 'channel'
                                  OR EXISTS (SELECT 1 FROM {p} AS p
                                             WHERE p.conversation_id = cid
                                               AND p.user_id = {_USER})))
        $$""",
        # Who may be written into the conversation's members: anyone, by one who takes part;
        # oneself, into a channel of one's company or a conversation one is creating.
        f"""CREATE FUNCTION hallway_rls_may_join(cid character varying,
                                                uid character varying) RETURNS boolean
        {definer} AS $$
            SELECT EXISTS (SELECT 1 FROM {c} AS c
                           WHERE c.id = cid AND c.company_id = {_COMPANY}
                             AND (EXISTS (SELECT 1 FROM {p} AS p
                                          WHERE p.conversation_id = cid
                                            AND p.user_id = {_USER})
                                  OR (uid = {_USER}
                                      AND (c.kind = 'channel' OR c.created_by = uid))))
        $$""",
    ]


def _policies() -> list[str]:
    def policy(table: str, using: str | None, check: str | None, command: str = "ALL") -> str:
        name = "hallway_acting" if command == "ALL" else f"hallway_acting_{command.lower()}"
        clauses = "".join(
            f" {clause} ({_SYSTEM} OR {condition})"
            for clause, condition in (("USING", using), ("WITH CHECK", check))
            if condition is not None
        )
        return f"CREATE POLICY {name} ON {table} FOR {command}{clauses}"

    member = "hallway_rls_takes_part(conversation_id)"
    return [
        # An open channel's row is the company's to see, and to lock for joining it.
        policy(
            "conversations",
            f"company_id = {_COMPANY} AND (kind = 'channel' OR hallway_rls_takes_part(id))",
            f"company_id = {_COMPANY}",
        ),
        # A channel's members are the company's to see; changing who takes part (and one's
        # read marker) is for those who take part, but for joining.
        policy("participants", "hallway_rls_sees(conversation_id)", None, "SELECT"),
        policy("participants", None, "hallway_rls_may_join(conversation_id, user_id)", "INSERT"),
        policy("participants", member, member, "UPDATE"),
        policy("participants", member, None, "DELETE"),
        *(policy(table, member, member) for table in _MEMBER_TABLES),
        *(policy(table, _MESSAGE_VISIBLE, _MESSAGE_VISIBLE) for table in _MESSAGE_TABLES),
        policy(
            "attachments",
            f"company_id = {_COMPANY} AND {member}",
            f"company_id = {_COMPANY} AND {member}",
        ),
    ]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = bind.execute(text("SELECT current_schema()")).scalar_one()
    for statement in _functions(schema):
        op.execute(statement)
    for statement in _policies():
        op.execute(statement)
    for table in _TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        names = bind.execute(
            text(
                "SELECT policyname FROM pg_policies WHERE tablename = :t AND schemaname = current_schema()"
            ),
            {"t": table},
        ).scalars()
        for name in list(names):
            op.execute(f"DROP POLICY {name} ON {table}")
    for function in reversed(_FUNCTIONS):
        op.execute(f"DROP FUNCTION {function}")
