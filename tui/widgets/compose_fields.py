"""Parts of the compose screen: address completion and checks, and the list of attached files."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.suggester import Suggester
from textual.validation import ValidationResult, Validator
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from store import compose
from store.errors import Invalid

log = logging.getLogger("mailroom.tui.compose")


def split_last(value: str) -> tuple[str, str]:
    """The typed recipients before the one being typed (with its separator) and that last one."""
    cut, quoted, angle = 0, False, False
    for index, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif ch == "<" and not quoted:
            angle = True
        elif ch == ">" and not quoted:
            angle = False
        elif ch in ",;" and not quoted and not angle:
            cut = index + 1
    rest = value[cut:]
    term = rest.lstrip()
    return value[: len(value) - len(term)], term


def complete(head: str, term: str, candidates: Sequence[str]) -> str | None:
    """The field's value completed with the first candidate that starts with *term* (name or address)."""
    wanted = term.casefold()
    for candidate in candidates:
        if candidate.casefold().startswith(wanted):
            return head + candidate
        address = candidate[candidate.rfind("<") + 1 : -1] if candidate.endswith(">") else candidate
        if address.casefold().startswith(wanted):
            return head + address
    return None


class AddressSuggester(Suggester):
    """Completes the recipient being typed from past correspondents; the lookup runs in a thread."""

    def __init__(self, lookup: Callable[[str], list[str]]) -> None:
        super().__init__(use_cache=True, case_sensitive=True)
        self._lookup = lookup

    async def get_suggestion(self, value: str) -> str | None:
        """The whole value with the last recipient completed, or None."""
        head, term = split_last(value)
        if not term or "<" in term:
            return None
        try:
            candidates = await asyncio.to_thread(self._lookup, term)
        except Exception:  # noqa: BLE001 - a failed completion must not disturb typing
            log.exception("address completion failed")
            return None
        return complete(head, term, candidates)


class AddressList(Validator):
    """Every recipient of a field is an address Mailroom can send to (the store's own rules)."""

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field

    def validate(self, value: str) -> ValidationResult:
        """Success for an empty field or well-formed recipients, else the store's message."""
        if not value.strip():
            return self.success()
        try:
            compose.parse_addresses([value], self.field)
        except Invalid as exc:
            return self.failure(next(iter(exc.errors.values()), "not a valid address"))
        return self.success()


def size_text(size: int) -> str:
    """A byte count as B, KB or MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


@dataclass(frozen=True)
class AttachedFile:
    """One file in the attachment list: its name and size as shown."""

    name: str
    size: int


class AttachmentList(OptionList):
    """The attached files, one a line; delete or backspace removes the highlighted one."""

    BINDINGS = [Binding("delete,backspace", "remove", "Remove file", id="compose.remove_attachment")]

    @dataclass
    class Removed(Message):
        """The user removed the file at *index*."""

        index: int

    def show_files(self, files: Sequence[AttachedFile]) -> None:
        """Replace the list with *files*, keeping the highlight near where it was."""
        kept = self.highlighted
        self.clear_options()
        self.add_options(
            Option(Content.assemble("📎 ", (f.name, "bold"), (f"  {size_text(f.size)}", "dim")))
            for f in files
        )
        if files:
            self.highlighted = min(kept or 0, len(files) - 1)
        self.display = bool(files)

    def action_remove(self) -> None:
        """Ask the screen to remove the highlighted file."""
        if self.highlighted is not None:
            self.post_message(self.Removed(self.highlighted))
