"""CRM: the address index also holds message_id; address_counts keeps how many messages carry each address.

address_counts has one row per address and set of mailboxes ("boxes", e.g. " 1 3 "): the number of
non-automated messages carrying the address (From/To/Cc) that sit in exactly those mailboxes, and the
newest date among them ever counted. A reader's count of an address is the sum over the sets holding a
mailbox they may read, so a message held by two of their mailboxes counts once. Triggers keep the table
up to date whatever changes the mail tables (sync, expunge, folder or mailbox removal, cascades).

Revision ID: crm3
Revises: outbox2
"""

import sqlalchemy as sa
from alembic import op

revision = "crm3"
down_revision = "outbox2"
branch_labels = None
depends_on = None

TRIGGERS = (
    "address_counts_location_added",
    "address_counts_location_removed",
    "address_counts_location_moved_from",
    "address_counts_location_moved_to",
    "address_counts_message_removed",
    "address_counts_automated_on",
    "address_counts_automated_off",
    "address_counts_address_added",
    "address_counts_address_removed",
)


def _boxes(mid: str, exclude_row: str | None = None, add_box: str | None = None) -> str:
    """SQL for the set of mailboxes holding message *mid* as " 1 3 " (NULL when none), leaving out the
    location row *exclude_row* and adding mailbox *add_box*."""
    where = f"message_id = {mid}" + (f" AND id <> {exclude_row}" if exclude_row else "")
    inner = f"SELECT DISTINCT mailbox_id AS b FROM message_locations WHERE {where}"
    inner += f" UNION SELECT {add_box}" if add_box else ""
    return f"(SELECT ' ' || group_concat(b, ' ') || ' ' FROM ({inner} ORDER BY 1))"


def _move(mid: str, old: str | None, new: str | None) -> str:
    """Statements moving message *mid*'s addresses from the count of set *old* to that of set *new*."""
    addresses = f"(SELECT address FROM message_addresses WHERE message_id = {mid})"
    out = ""
    if old:
        out += (
            f"UPDATE address_counts SET messages = messages - 1 WHERE boxes = {old} "
            f"AND address IN {addresses};\n"
            f"DELETE FROM address_counts WHERE messages <= 0 AND boxes = {old} "
            f"AND address IN {addresses};\n"
        )
    if new:
        out += (
            "INSERT INTO address_counts (address, boxes, messages, last_at) "
            f"SELECT DISTINCT address, {new}, 1, (SELECT sent_at FROM messages WHERE id = {mid}) "
            f"FROM message_addresses WHERE message_id = {mid} AND {new} IS NOT NULL "
            "ON CONFLICT (address, boxes) DO UPDATE SET messages = messages + 1, "
            "last_at = max(last_at, excluded.last_at);\n"
        )
    return out


def _counted(mid: str) -> str:
    """SQL: the message exists and is not automated."""
    return f"NOT coalesce((SELECT is_automated FROM messages WHERE id = {mid}), 1)"


def _trigger(name: str, event: str, when: str, body: str) -> str:
    return f"CREATE TRIGGER {name} {event} FOR EACH ROW WHEN {when}\nBEGIN\n{body}END"


def trigger_sql() -> list[str]:
    """The CREATE TRIGGER statements that keep address_counts right."""
    new_box_first = (
        "NOT EXISTS (SELECT 1 FROM message_locations WHERE message_id = NEW.message_id "
        "AND mailbox_id = NEW.mailbox_id AND id <> NEW.id)"
    )
    old_box_last = (
        "NOT EXISTS (SELECT 1 FROM message_locations WHERE message_id = OLD.message_id "
        "AND mailbox_id = OLD.mailbox_id)"
    )
    moved_from_old = _boxes("OLD.message_id", exclude_row="NEW.id", add_box="OLD.mailbox_id")
    moved_to_new = _boxes("NEW.message_id", exclude_row="NEW.id")
    return [
        _trigger(
            "address_counts_location_added",
            "AFTER INSERT ON message_locations",
            f"{_counted('NEW.message_id')} AND {new_box_first}",
            _move("NEW.message_id", _boxes("NEW.message_id", exclude_row="NEW.id"), _boxes("NEW.message_id")),
        ),
        _trigger(
            "address_counts_location_removed",
            "AFTER DELETE ON message_locations",
            f"{_counted('OLD.message_id')} AND {old_box_last}",
            _move(
                "OLD.message_id", _boxes("OLD.message_id", add_box="OLD.mailbox_id"), _boxes("OLD.message_id")
            ),
        ),
        # a location row that changes message or mailbox: the old message loses it, the new one gains it
        _trigger(
            "address_counts_location_moved_from",
            "AFTER UPDATE OF message_id, mailbox_id ON message_locations",
            f"(OLD.message_id <> NEW.message_id OR OLD.mailbox_id <> NEW.mailbox_id) "
            f"AND {_counted('OLD.message_id')} AND {moved_from_old} IS NOT {_boxes('OLD.message_id')}",
            _move("OLD.message_id", moved_from_old, _boxes("OLD.message_id")),
        ),
        _trigger(
            "address_counts_location_moved_to",
            "AFTER UPDATE OF message_id ON message_locations",
            f"OLD.message_id <> NEW.message_id AND {_counted('NEW.message_id')} "
            f"AND {moved_to_new} IS NOT {_boxes('NEW.message_id')}",
            _move("NEW.message_id", moved_to_new, _boxes("NEW.message_id")),
        ),
        # a message deleted while still held: its locations go first, through the trigger above
        _trigger(
            "address_counts_message_removed",
            "BEFORE DELETE ON messages",
            "1",
            "DELETE FROM message_locations WHERE message_id = OLD.id;\n",
        ),
        _trigger(
            "address_counts_automated_on",
            "AFTER UPDATE OF is_automated ON messages",
            "NEW.is_automated AND NOT OLD.is_automated",
            _move("NEW.id", _boxes("NEW.id"), None),
        ),
        _trigger(
            "address_counts_automated_off",
            "AFTER UPDATE OF is_automated ON messages",
            "OLD.is_automated AND NOT NEW.is_automated",
            _move("NEW.id", None, _boxes("NEW.id")),
        ),
        # addresses written after the message's locations (the writer adds them before)
        _trigger(
            "address_counts_address_added",
            "AFTER INSERT ON message_addresses",
            f"{_counted('NEW.message_id')} AND NOT EXISTS (SELECT 1 FROM message_addresses "
            "WHERE message_id = NEW.message_id AND address = NEW.address AND kind <> NEW.kind)",
            "INSERT INTO address_counts (address, boxes, messages, last_at) "
            f"SELECT NEW.address, {_boxes('NEW.message_id')}, 1, sent_at FROM messages "
            f"WHERE id = NEW.message_id AND {_boxes('NEW.message_id')} IS NOT NULL "
            "ON CONFLICT (address, boxes) DO UPDATE SET messages = messages + 1, "
            "last_at = max(last_at, excluded.last_at);\n",
        ),
        _trigger(
            "address_counts_address_removed",
            "AFTER DELETE ON message_addresses",
            f"{_counted('OLD.message_id')} AND NOT EXISTS (SELECT 1 FROM message_addresses "
            "WHERE message_id = OLD.message_id AND address = OLD.address)",
            f"UPDATE address_counts SET messages = messages - 1 WHERE address = OLD.address "
            f"AND boxes = {_boxes('OLD.message_id')};\n"
            "DELETE FROM address_counts WHERE address = OLD.address AND messages <= 0;\n",
        ),
    ]


BACKFILL = f"""
INSERT INTO address_counts (address, boxes, messages, last_at)
SELECT a.address, s.boxes, count(*), max(s.sent_at)
FROM (SELECT m.id AS id, m.sent_at AS sent_at, {_boxes("m.id")} AS boxes
      FROM messages m WHERE NOT m.is_automated) AS s
JOIN (SELECT DISTINCT message_id, address FROM message_addresses) AS a ON a.message_id = s.id
WHERE s.boxes IS NOT NULL
GROUP BY a.address, s.boxes
"""


def upgrade() -> None:
    op.drop_index("ix_message_addresses_address", "message_addresses")
    op.create_index("ix_message_addresses_address", "message_addresses", ["address", "message_id"])
    op.create_table(
        "address_counts",
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("boxes", sa.String(200), primary_key=True),
        sa.Column("messages", sa.Integer, nullable=False),
        sa.Column("last_at", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    op.execute(BACKFILL)
    for sql in trigger_sql():
        op.execute(sql)


def downgrade() -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("address_counts")
    op.drop_index("ix_message_addresses_address", "message_addresses")
    op.create_index("ix_message_addresses_address", "message_addresses", ["address"])
