"""Snapshots of the Providers and Mail provider domains directories and their dialogs."""

from __future__ import annotations

from tests.snapshots.conftest import SNAP_SIZE, settle


async def open_providers(pilot) -> None:  # noqa: ANN001 - textual.pilot.Pilot
    """From the panel, open Providers through the account menu, keys only."""
    await settle(pilot)
    await pilot.press("a", "up", "up", "enter")
    await settle(pilot)


def test_providers_directory(snap_compare, make_app) -> None:
    """You should see the Providers screen: an intro line, then a table with Name, IMAP server, SMTP server,
    Sign-in and Login for the ten shipped providers (AOL highlighted … Zoho Mail), e.g. "Outlook.com /
    Microsoft 365 · outlook.office365.com:993 TLS · smtp.office365.com:587 STARTTLS · OAuth2 · address";
    nothing clipped; the footer offers a Add, e Edit, d Delete, esc Back."""

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=open_providers)


def test_provider_form_with_errors(snap_compare, make_app) -> None:
    """You should see the "New provider" dialog after Save with bad input: under the IMAP row "IMAP host:
    not a valid host name" and "IMAP port: Input should be greater than or equal to 1", under the SMTP row
    "SMTP port: …valid integer…", and under Help page "must be an https:// address"; the invalid inputs
    have red borders and the IMAP host has the focus."""

    async def run_before(pilot) -> None:
        await open_providers(pilot)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"Acme Mail", "tab", *"imap..acme", "tab", "0", "tab", "tab", *"smtp.acme.example")
        for _ in range(6):
            await pilot.press("tab")
        await pilot.press(*"http://acme.example/help", "ctrl+s")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_confirm_delete_provider(snap_compare, make_app) -> None:
    """You should see the "Please confirm" dialog over the Providers table asking "Delete the provider
    Gmail?" with "Its domains leave the Mail provider domains lookup too.", a focused Cancel button and a red
    "Delete (y)" button; the footer offers y Yes and n No."""

    async def run_before(pilot) -> None:
        await open_providers(pilot)
        await pilot.press("down", "down", "d")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_domains_directory(snap_compare, make_app) -> None:
    """You should see the Mail provider domains screen: an intro line, then Domain, Provider and Source for
    the shipped domains in alphabetical order (aim.com → AOL → built-in first), a scrollbar, and the footer
    offering a Add, d Delete, esc Back."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("a", "up", "enter")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)


def test_domain_form(snap_compare, make_app) -> None:
    """You should see the "Add a mail provider domain" dialog with "acme" typed in Domain and, after Save,
    "'acme' is not a valid domain (expected e.g. example.com)" under it and "choose the provider that serves
    this domain" under the empty Provider select."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("a", "up", "enter")
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"acme", "ctrl+s")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SNAP_SIZE, run_before=run_before)
