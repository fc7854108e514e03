"""A tree of a mailbox's server folders, a checkbox on each; checking a folder never checks its subfolders."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from store.mailbox_settings import ServerFolder

CHECKED, UNCHECKED = "☑", "☐"
SUBFOLDERS_NOTE = "Checking a folder does not include its subfolders."
MISSING_NOTE = "⚠ missing on server"
PARENT_NOTE = "holds subfolders only"


@dataclass
class FolderEntry:
    """A node of the tree: a server folder, a parent the server cannot open, or a selected folder now gone."""

    name: str
    leaf: str
    selectable: bool
    checked: bool = False
    missing: bool = False

    @property
    def checkable(self) -> bool:
        """Whether space may toggle it (a checked one can always be unchecked)."""
        return self.selectable or self.checked


def folder_label(entry: FolderEntry, warning: str = "yellow") -> Text:
    """The node's label: its checkbox and name, and why it cannot be checked or where it went."""
    if not entry.checkable:
        text = Text.assemble(("  ", ""), (entry.leaf, "dim"))
        if entry.missing:
            text.append(f"  {MISSING_NOTE}", style=f"bold {warning}")
        else:
            text.append(f"  {PARENT_NOTE}", style="dim italic")
        return text
    text = Text.assemble(f"{CHECKED if entry.checked else UNCHECKED} ", entry.leaf)
    if entry.missing:
        text.append(f"  {MISSING_NOTE}", style=f"bold {warning}")
    elif not entry.selectable:
        text.append(f"  {PARENT_NOTE}", style="dim italic")
    return text


def _sort_key(name: str) -> tuple[bool, str]:
    return name.upper() != "INBOX", name.lower()


class FolderTree(Tree[FolderEntry]):
    """Server folders with checkboxes: space checks only the folder under the cursor, e expands all."""

    BINDINGS = [
        Binding("space", "toggle_check", "Check / uncheck", id="folder_tree.toggle"),
        Binding("e", "expand_all", "Expand all", id="folder_tree.expand_all"),
        Binding("right", "open_or_down", "Expand", show=False, id="folder_tree.expand"),
        Binding("left", "close_or_parent", "Collapse", show=False, id="folder_tree.collapse"),
    ]

    @dataclass
    class Changed(Message):
        """The user checked or unchecked a folder; *selected* is every checked folder now."""

        tree: FolderTree
        selected: tuple[str, ...]

        @property
        def control(self) -> FolderTree:
            """The tree that changed."""
            return self.tree

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's own parameter name
        super().__init__("Folders", id=id)
        self.show_root = False
        self._by_name: dict[str, TreeNode[FolderEntry]] = {}

    def render_label(self, node: TreeNode[FolderEntry], base_style: Style, style: Style) -> Text:
        """The label, indented on nodes without subfolders so every checkbox lines up with its siblings'."""
        text = super().render_label(node, base_style, style)
        return text if node.allow_expand or node is self.root else Text.assemble("  ", text)

    # -- content ------------------------------------------------------------------------
    def show_folders(self, folders: Iterable[ServerFolder], selected: Iterable[str]) -> None:
        """Show *folders* as listed, checking *selected*; selected ones the server lacks show as missing."""
        self.clear()
        self._by_name = {}
        listed = sorted(folders, key=lambda f: _sort_key(f.name))
        delimiters = [f.delimiter for f in listed if f.delimiter]
        default_delimiter = max(set(delimiters), key=delimiters.count) if delimiters else "/"
        chosen = set(selected)
        for folder in listed:
            entry = self._ensure(folder.parts, folder.delimiter)
            entry.selectable = folder.selectable
            entry.checked = folder.name in chosen
        for name in sorted(chosen - {f.name for f in listed}, key=_sort_key):
            parts = name.split(default_delimiter)
            entry = self._ensure(parts, default_delimiter, missing=True)
            entry.selectable, entry.checked = True, True
        for node in self._by_name.values():
            self._relabel(node)
            if node.data is not None and node.data.checked:
                self._reveal(node)
        self.root.expand()
        self.move_cursor_to_line(0)

    def _ensure(self, parts: list[str], delimiter: str, missing: bool = False) -> FolderEntry:
        """The entry at *parts*, creating it and any parent as entries that cannot be checked."""
        parent = self.root
        for depth in range(1, len(parts) + 1):
            name = delimiter.join(parts[:depth])
            node = self._by_name.get(name)
            if node is None:
                entry = FolderEntry(name, parts[depth - 1], selectable=False, missing=missing)
                node = parent.add(entry.leaf, entry, allow_expand=False)
                self._by_name[name] = node
                parent.allow_expand = True
            parent = node
        assert parent.data is not None
        return parent.data

    def _reveal(self, node: TreeNode[FolderEntry]) -> None:
        parent = node.parent
        while parent is not None and parent is not self.root:
            parent.expand()
            parent = parent.parent

    def _relabel(self, node: TreeNode[FolderEntry]) -> None:
        if node.data is not None:
            warning = self.app.theme_variables.get("warning", "yellow") if self.is_attached else "yellow"
            node.set_label(folder_label(node.data, warning))

    @property
    def selected(self) -> tuple[str, ...]:
        """Every checked folder, missing ones included, sorted."""
        return tuple(
            sorted(n for n, node in self._by_name.items() if node.data is not None and node.data.checked)
        )

    def node(self, name: str) -> TreeNode[FolderEntry]:
        """The node of folder *name*."""
        return self._by_name[name]

    def entries(self) -> Mapping[str, FolderEntry]:
        """Every entry by full folder name."""
        return {name: node.data for name, node in self._by_name.items() if node.data is not None}

    # -- keys -------------------------------------------------------------------------------
    def action_toggle_check(self) -> None:
        """Check or uncheck the folder under the cursor, and only that folder."""
        node = self.cursor_node
        if node is None or node.data is None:
            return
        entry = node.data
        if not entry.checkable:
            self.app.bell()
            self.notify(
                f"{entry.name} holds subfolders only: check the subfolders you want.", title="Not a folder"
            )
            return
        entry.checked = not entry.checked
        self._relabel(node)
        self.post_message(self.Changed(self, self.selected))

    def action_expand_all(self) -> None:
        """Expand every folder that has subfolders."""
        self.root.expand_all()

    def action_open_or_down(self) -> None:
        """Expand the folder under the cursor, or step into it when it is open already."""
        node = self.cursor_node
        if node is not None and node.allow_expand and not node.is_expanded:
            node.expand()
        else:
            self.action_cursor_down()

    def action_close_or_parent(self) -> None:
        """Collapse the folder under the cursor, or go to its parent when it is closed."""
        node = self.cursor_node
        if node is not None and node.allow_expand and node.is_expanded:
            node.collapse()
        else:
            self.action_cursor_parent()


class FolderPicker(Vertical):
    """The folder tree under the line that says subfolders are not included."""

    DEFAULT_CSS = """
    FolderPicker { height: 1fr; }
    FolderPicker #subfolders-note { height: 1; color: $text-muted; }
    FolderPicker FolderTree { height: 1fr; border: none; padding: 0; background: transparent; }
    """

    def compose(self) -> ComposeResult:
        yield Static(SUBFOLDERS_NOTE, id="subfolders-note", markup=False)
        yield FolderTree(id="folder-tree")
