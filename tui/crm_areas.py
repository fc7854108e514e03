"""The CRM's screens the palette and the panel open by name."""

from __future__ import annotations

from textual.app import App

from store.identity import Actor
from store.service import Store
from tui.widgets.account_menu import MenuCommand

CRM_COMMANDS = [
    MenuCommand("Contacts", "app.open_crm('contacts')", "People in the CRM and the mail with them"),
    MenuCommand("Companies", "app.open_crm('companies')", "Companies in the CRM, their domains and mail"),
    MenuCommand("Review proposals", "app.open_crm('proposals')", "Phones and titles found in signatures"),
    MenuCommand("Unmatched senders", "app.open_crm('unmatched')", "People in your mail who are no contact"),
]


def open_area(app: App, store: Store, actor: Actor, area: str) -> None:
    """Push the screen of one CRM area (contacts, companies, proposals, unmatched) unless it is showing."""
    if area == "contacts":
        from screens.contacts import ContactsScreen as screen_class
    elif area == "companies":
        from screens.companies import CompaniesScreen as screen_class  # type: ignore[assignment]
    elif area == "proposals":
        from screens.enrichment_review import EnrichmentReviewScreen as screen_class  # type: ignore[assignment]
    elif area == "unmatched":
        from screens.unmatched import UnmatchedScreen as screen_class  # type: ignore[assignment]
    else:
        raise ValueError(f"no CRM area {area!r}")
    if not isinstance(app.screen, screen_class):
        app.push_screen(screen_class(store, actor))
