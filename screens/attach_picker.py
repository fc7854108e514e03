"""Choosing a file to attach, over SSH too: a folder tree and a path field with completion."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import DirectoryTree, Footer, Input, Label, Static

from store.compose import MAX_ATTACHMENT_BYTES, AttachRules
from store.errors import Invalid
from tui.widgets.compose_fields import size_text

HELP = (
    "Type a path (→ accepts a completion, enter opens a folder or attaches a file), "
    "or choose in the tree below (enter on a file attaches it)."
)


@dataclass(frozen=True)
class PickedFile:
    """A readable file the user chose, with its size when chosen."""

    path: Path
    size: int


def shown(folder: Path) -> str:
    """A folder as the user reads it: under the home folder as `~/…`, with a trailing slash."""
    home = Path.home()
    text = str(folder)
    if folder == home:
        text = "~"
    elif folder.is_relative_to(home):
        text = "~/" + str(folder.relative_to(home))
    return text.rstrip("/") + "/"


def resolve(typed: str, folder: Path) -> Path:
    """What the user typed, with `~` expanded and relative to the folder shown."""
    path = Path(typed.strip()).expanduser()
    return path if path.is_absolute() else folder / path


def check_file(path: Path, rules: AttachRules | None = None) -> PickedFile | str:
    """The file to attach, or why it cannot be (blocking: call it in a thread). *rules* are the store's
    (`Store.attach_rules`): the outbox refuses the same files when the message is queued."""
    try:
        info = path.stat()
    except OSError as exc:
        return f"{exc.strerror or 'cannot read it'}: {path.name}"
    if rules is not None:
        try:
            rules.check(path)
        except Invalid as exc:
            return exc.errors["attachments"]
    if not path.is_file():
        return "not a regular file"
    if not os.access(path, os.R_OK):
        return "you may not read this file"
    if info.st_size > MAX_ATTACHMENT_BYTES:
        return f"{size_text(info.st_size)} is too large; at most {MAX_ATTACHMENT_BYTES >> 20} MB can be sent"
    return PickedFile(path, info.st_size)


class PathSuggester(Suggester):
    """Completes the last part of a typed path from the folder's entries (listed in a thread)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.folder = folder

    async def get_suggestion(self, value: str) -> str | None:
        """The value completed with the first matching entry (folders end with a slash)."""
        head, _, stem = value.rpartition("/")
        where = resolve(head + "/" if head or value.startswith("/") else ".", self.folder)
        try:
            names = await asyncio.to_thread(_entries, where)
        except OSError:
            return None
        show_hidden = stem.startswith(".")
        for name, is_dir in names:
            if name.startswith(stem) and name != stem and (show_hidden or not name.startswith(".")):
                return value[: len(value) - len(stem)] + name + ("/" if is_dir else "")
        return None


def _entries(folder: Path) -> list[tuple[str, bool]]:
    with os.scandir(folder) as it:
        return sorted((e.name, e.is_dir()) for e in it)


class FileTree(DirectoryTree):
    """A DirectoryTree without hidden files (a typed path still reaches them)."""

    BINDINGS = [Binding("backspace", "parent", "Parent folder", id="attach.parent")]

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        """Leave out names starting with a dot."""
        return [p for p in paths if not p.name.startswith(".")]

    def action_parent(self) -> None:
        """Show the folder above the one shown."""
        screen = self.screen
        if isinstance(screen, AttachPicker):
            screen.open_folder(Path(self.path).parent)


class AttachPicker(ModalScreen[PickedFile | None]):
    """Asks for one file; dismisses with a readable file of acceptable size, or None."""

    AUTO_FOCUS = "#attach-path"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="attach.cancel")]

    def __init__(self, folder: Path | None = None, rules: Callable[[], AttachRules] | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.folder = (folder or Path.home()).expanduser()
        self.rules = rules  # reads the store's rules (a system setting): called in a thread

    def compose(self) -> ComposeResult:
        with Vertical(id="attach-dialog", classes="dialog"):
            yield Static(HELP, id="attach-help", markup=False)
            yield Input(
                shown(self.folder),
                id="attach-path",
                suggester=PathSuggester(self.folder),
                placeholder="~/Documents/offer.pdf",
                select_on_focus=False,
            )
            yield Label(id="attach-error", markup=False)
            yield FileTree(self.folder, id="attach-tree")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#attach-dialog").border_title = "Attach a file"
        self.query_one(FileTree).show_root = False

    def open_folder(self, folder: Path) -> None:
        """Show *folder* in the tree and in the path field."""
        self.folder = folder
        tree = self.query_one(FileTree)
        tree.path = folder
        field = self.query_one("#attach-path", Input)
        field.value = shown(folder)
        field.suggester = PathSuggester(folder)
        self._error("")

    def _error(self, message: str) -> None:
        label = self.query_one("#attach-error", Label)
        label.update(message)
        label.set_class(bool(message), "-shown")

    @on(Input.Submitted, "#attach-path")
    async def _typed(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            return
        path = resolve(event.value, self.folder)
        if await asyncio.to_thread(path.is_dir):
            self.open_folder(path.resolve())
            return
        await self._choose(path)

    @on(DirectoryTree.FileSelected)
    async def _chosen(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        await self._choose(event.path)

    async def _choose(self, path: Path) -> None:
        result = await asyncio.to_thread(lambda: check_file(path, self.rules() if self.rules else None))
        if isinstance(result, str):
            self._error(result)
            self.query_one("#attach-path", Input).focus()
        else:
            self.dismiss(result)

    def action_cancel(self) -> None:
        """Close without a file."""
        self.dismiss(None)
