"""CRM: cheaper triggers for address_counts (same counts as crm3's).

A message's first location, and the removal of its last one, touch only the single-mailbox set " N "
without computing the message's set of mailboxes; the address triggers return at once while the message
has no location yet (the writer stores addresses first). See crm3 for what the table holds.

Revision ID: crm5
Revises: crm4
"""

from alembic import op

revision = "crm5"
down_revision = "crm4"
branch_labels = None
depends_on = None

OLD_TRIGGERS = (
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
TRIGGERS = (
    "address_counts_first_location",
    "address_counts_location_added",
    "address_counts_last_location",
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


def _addresses(mid: str) -> str:
    return f"(SELECT address FROM message_addresses WHERE message_id = {mid})"


def _take(mid: str, boxes: str) -> str:
    """Statements taking message *mid* off the count of each of its addresses in set *boxes*."""
    return (
        f"UPDATE address_counts SET messages = messages - 1 WHERE boxes = {boxes} "
        f"AND address IN {_addresses(mid)};\n"
        f"DELETE FROM address_counts WHERE messages <= 0 AND boxes = {boxes} "
        f"AND address IN {_addresses(mid)};\n"
    )


def _give(mid: str, boxes: str) -> str:
    """A statement adding message *mid* to the count of each of its addresses in set *boxes*."""
    return (
        "INSERT INTO address_counts (address, boxes, messages, last_at) "
        f"SELECT DISTINCT address, {boxes}, 1, (SELECT sent_at FROM messages WHERE id = {mid}) "
        f"FROM message_addresses WHERE message_id = {mid} AND {boxes} IS NOT NULL "
        "ON CONFLICT (address, boxes) DO UPDATE SET messages = messages + 1, "
        "last_at = max(last_at, excluded.last_at);\n"
    )


def _counted(mid: str) -> str:
    """SQL: the message exists and is not automated."""
    return f"NOT coalesce((SELECT is_automated FROM messages WHERE id = {mid}), 1)"


def _located(mid: str, where: str = "") -> str:
    return f"EXISTS (SELECT 1 FROM message_locations WHERE message_id = {mid}{where})"


def _trigger(name: str, event: str, when: str, body: str) -> str:
    return f"CREATE TRIGGER {name} {event} FOR EACH ROW WHEN {when}\nBEGIN\n{body}END"


def trigger_sql() -> list[str]:
    """The CREATE TRIGGER statements that keep address_counts right."""
    other_row = " AND id <> NEW.id"
    same_box_new = " AND mailbox_id = NEW.mailbox_id AND id <> NEW.id"
    same_box_old = " AND mailbox_id = OLD.mailbox_id"
    only_new = "' ' || NEW.mailbox_id || ' '"
    only_old = "' ' || OLD.mailbox_id || ' '"
    moved_from_old = _boxes("OLD.message_id", exclude_row="NEW.id", add_box="OLD.mailbox_id")
    moved_to_new = _boxes("NEW.message_id", exclude_row="NEW.id")
    return [
        _trigger(
            "address_counts_first_location",
            "AFTER INSERT ON message_locations",
            f"NOT {_located('NEW.message_id', other_row)} AND {_counted('NEW.message_id')}",
            _give("NEW.message_id", only_new),
        ),
        _trigger(
            "address_counts_location_added",
            "AFTER INSERT ON message_locations",
            f"{_located('NEW.message_id', other_row)} "
            f"AND NOT {_located('NEW.message_id', same_box_new)} "
            f"AND {_counted('NEW.message_id')}",
            _take("NEW.message_id", _boxes("NEW.message_id", exclude_row="NEW.id"))
            + _give("NEW.message_id", _boxes("NEW.message_id")),
        ),
        _trigger(
            "address_counts_last_location",
            "AFTER DELETE ON message_locations",
            f"NOT {_located('OLD.message_id')} AND {_counted('OLD.message_id')}",
            _take("OLD.message_id", only_old),
        ),
        _trigger(
            "address_counts_location_removed",
            "AFTER DELETE ON message_locations",
            f"{_located('OLD.message_id')} AND NOT {_located('OLD.message_id', same_box_old)} "
            f"AND {_counted('OLD.message_id')}",
            _take("OLD.message_id", _boxes("OLD.message_id", add_box="OLD.mailbox_id"))
            + _give("OLD.message_id", _boxes("OLD.message_id")),
        ),
        # a location row that changes message or mailbox: the old message loses it, the new one gains it
        _trigger(
            "address_counts_location_moved_from",
            "AFTER UPDATE OF message_id, mailbox_id ON message_locations",
            f"(OLD.message_id <> NEW.message_id OR OLD.mailbox_id <> NEW.mailbox_id) "
            f"AND {_counted('OLD.message_id')} AND {moved_from_old} IS NOT {_boxes('OLD.message_id')}",
            _take("OLD.message_id", moved_from_old) + _give("OLD.message_id", _boxes("OLD.message_id")),
        ),
        _trigger(
            "address_counts_location_moved_to",
            "AFTER UPDATE OF message_id ON message_locations",
            f"OLD.message_id <> NEW.message_id AND {_counted('NEW.message_id')} "
            f"AND {moved_to_new} IS NOT {_boxes('NEW.message_id')}",
            _take("NEW.message_id", moved_to_new) + _give("NEW.message_id", _boxes("NEW.message_id")),
        ),
        # a message deleted while still held: its locations go first, through the triggers above
        _trigger(
            "address_counts_message_removed",
            "BEFORE DELETE ON messages",
            _located("OLD.id"),
            "DELETE FROM message_locations WHERE message_id = OLD.id;\n",
        ),
        _trigger(
            "address_counts_automated_on",
            "AFTER UPDATE OF is_automated ON messages",
            f"NEW.is_automated AND NOT OLD.is_automated AND {_located('NEW.id')}",
            _take("NEW.id", _boxes("NEW.id")),
        ),
        _trigger(
            "address_counts_automated_off",
            "AFTER UPDATE OF is_automated ON messages",
            f"OLD.is_automated AND NOT NEW.is_automated AND {_located('NEW.id')}",
            _give("NEW.id", _boxes("NEW.id")),
        ),
        # an address written after the message's locations (the writer stores addresses first)
        _trigger(
            "address_counts_address_added",
            "AFTER INSERT ON message_addresses",
            f"{_located('NEW.message_id')} AND {_counted('NEW.message_id')} AND NOT EXISTS (SELECT 1 "
            "FROM message_addresses WHERE message_id = NEW.message_id AND address = NEW.address "
            "AND kind <> NEW.kind)",
            "INSERT INTO address_counts (address, boxes, messages, last_at) "
            f"SELECT NEW.address, {_boxes('NEW.message_id')}, 1, sent_at FROM messages "
            "WHERE id = NEW.message_id ON CONFLICT (address, boxes) DO UPDATE SET "
            "messages = messages + 1, last_at = max(last_at, excluded.last_at);\n",
        ),
        _trigger(
            "address_counts_address_removed",
            "AFTER DELETE ON message_addresses",
            f"{_located('OLD.message_id')} AND {_counted('OLD.message_id')} AND NOT EXISTS (SELECT 1 "
            "FROM message_addresses WHERE message_id = OLD.message_id AND address = OLD.address)",
            f"UPDATE address_counts SET messages = messages - 1 WHERE address = OLD.address "
            f"AND boxes = {_boxes('OLD.message_id')};\n"
            "DELETE FROM address_counts WHERE address = OLD.address AND messages <= 0;\n",
        ),
    ]


def upgrade() -> None:
    for name in OLD_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for sql in trigger_sql():
        op.execute(sql)


def downgrade() -> None:
    from importlib import import_module

    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for sql in import_module("store.migrations.versions.crm3_address_counts").trigger_sql():
        op.execute(sql)
