"""Wizard step 2: how the provider was found and the servers it will use, or a picker when it is unknown."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Label, OptionList, Static
from textual.widgets.option_list import Option

from screens.wizard_base import WizardStep
from screens.wizard_results import BACK, Back
from store.accounts import Detection, server_lines
from store.providers import Provider


def how_found(detection: Detection) -> Content:
    """The provider and how it was found, e.g. "Gmail · recognised from the domain's MX records (…)"."""
    if detection.provider is None:
        return Content("")
    how = detection.how_label
    if detection.how == "mx" and detection.mx_hosts:
        how += f" ({detection.mx_hosts[0]})"
    return Content.from_markup("[b]$name[/b] · $how", name=detection.provider.name, how=how)


def unknown_text(detection: Detection) -> Content:
    """Why the picker is shown, and what picking does."""
    domain = detection.address.domain
    if detection.provider is not None:
        return Content.from_markup("Choose the provider of [b]$domain[/b] with ↑ ↓ and Enter:", domain=domain)
    reason = f" ({detection.mx_note}" + (
        f": {', '.join(detection.mx_hosts[:2])})" if detection.mx_hosts else ")"
    )
    return Content.from_markup(
        "Mailroom does not know the provider of [b]$domain[/b]$reason.\n"
        "Choose it below with ↑ ↓ and Enter. Once this mailbox is connected, $domain is remembered for the "
        "next account.",
        domain=domain,
        reason=reason if detection.mx_note else "",
    )


class ProviderStep(WizardStep[Detection | Back | None]):
    """Shows the detected provider (p picks another), or the picker; dismisses with the chosen detection."""

    STEP = 2
    AUTO_FOCUS = "#next"
    BINDINGS = [
        Binding("escape", "back", "Back", id="wizard.back"),
        Binding("p", "pick", "Choose another provider", id="wizard.pick_provider"),
    ]

    DEFAULT_CSS = """
    ProviderStep #detected, ProviderStep #picker { height: auto; }
    ProviderStep #unknown { margin: 1 0 0 0; }
    ProviderStep #servers-row { margin-top: 1; }
    ProviderStep #provider-list { height: auto; max-height: 14; margin-bottom: 1; }
    """

    def __init__(self, detection: Detection, providers: tuple[Provider, ...]) -> None:
        super().__init__()
        self.detection = detection
        self.providers = providers
        self.picking = detection.provider is None

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="wizard-row"):
            yield Label("Address", classes="wizard-label -flat")
            yield Static(self.detection.address.email, classes="wizard-value", markup=False)
        with Vertical(id="detected"):
            with Horizontal(classes="wizard-row"):
                yield Label("Provider", classes="wizard-label -flat")
                yield Static(how_found(self.detection), id="how", classes="wizard-value")
        with Vertical(id="picker"):
            yield Static(unknown_text(self.detection), id="unknown", classes="wizard-intro")
            yield OptionList(
                *(Option(self._prompt(p), id=str(p.id)) for p in self.providers), id="provider-list"
            )
        with Horizontal(classes="wizard-row", id="servers-row"):
            yield Label("Servers", classes="wizard-label -flat")
            yield Static(id="servers", classes="wizard-value", markup=False)
        with Horizontal(classes="buttons"):
            yield Button("Choose another provider (p)", id="pick")
            yield Button("Back", id="back")
            yield Button("Next", variant="primary", id="next")

    @staticmethod
    def _prompt(provider: Provider) -> Content:
        return Content.from_markup("$name  [dim]$host[/dim]", name=provider.name, host=provider.imap_host)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#provider-list").border_title = "Providers"
        self._show_mode()

    def _show_mode(self) -> None:
        self.query_one("#detected").display = not self.picking
        self.query_one("#picker").display = self.picking
        self.query_one("#pick").display = not self.picking
        self.query_one("#next").display = not self.picking
        if self.picking:
            picker = self.query_one("#provider-list", OptionList)
            if picker.highlighted is None and self.providers:
                picker.highlighted = 0
            picker.focus()
            self._show_servers(self._highlighted())
        else:
            self._show_servers(self.detection.provider)
            self.query_one("#next").focus()
        self.refresh_bindings()

    def _highlighted(self) -> Provider | None:
        index = self.query_one("#provider-list", OptionList).highlighted
        return self.providers[index] if index is not None and index < len(self.providers) else None

    def _show_servers(self, provider: Provider | None) -> None:
        self.query_one("#servers", Static).update("\n".join(server_lines(provider)) if provider else "")

    @on(OptionList.OptionHighlighted, "#provider-list")
    def _highlight(self) -> None:
        self._show_servers(self._highlighted())

    @on(OptionList.OptionSelected, "#provider-list")
    def _picked(self) -> None:
        provider = self._highlighted()
        if provider is not None:
            self.dismiss(self.detection.chosen(provider))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer "Choose another provider" only while a detected provider is shown."""
        if action == "pick":
            return not self.picking
        return True

    @on(Button.Pressed, "#pick")
    def action_pick(self) -> None:
        """Show the picker instead of the detected provider."""
        self.picking = True
        self._show_mode()

    @on(Button.Pressed, "#next")
    def action_next(self) -> None:
        """Go on with the detected provider."""
        if self.detection.provider is not None:
            self.dismiss(self.detection)

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        """Return to the address (from the picker opened with p: to the detected provider)."""
        if self.picking and self.detection.provider is not None:
            self.picking = False
            self._show_mode()
            return
        self.dismiss(BACK)
