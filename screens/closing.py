"""Closing a screen when a worker's answer arrives, which may be while another screen is on top of it."""

from __future__ import annotations

from typing import Any, TypeVar

from textual.screen import Screen

ResultT = TypeVar("ResultT")


def dismiss_when_active(screen: Screen[ResultT], result: ResultT) -> None:
    """Dismiss *screen* with *result* now when it is on top, else as soon as it is on top again.

    Textual's dismiss() runs *screen*'s callback but pops the top screen, whichever it is: an answer that
    arrives while the command palette (or a screen opened from it) is over *screen* would close that one and
    leave *screen* behind. Waiting keeps what the user opened meanwhile; closing it brings the answer.
    """
    if screen.is_active:
        screen.dismiss(result)
        return
    signal = screen.app.screen_change_signal

    def changed(active: Screen[Any]) -> None:
        if active is screen and screen.is_active:
            signal.unsubscribe(screen)
            screen.dismiss(result)

    signal.subscribe(screen, changed)
