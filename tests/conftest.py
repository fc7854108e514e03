"""Fixtures every test shares: the real-server harness, and DNS kept on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.dns_stub import mx_server

pytest_plugins = ["tests.harness.fixtures"]


@pytest.fixture(scope="session", autouse=True)
def loopback_dns() -> Iterator[str]:
    """Send every MX lookup of the run to an empty DNS stub on 127.0.0.1 (NXDOMAIN for all), never to the
    machine's resolver; tests that need answers point MAILROOM_DNS_SERVER at a stub of their own."""
    with mx_server({}) as (address, _zone):
        previous = os.environ.get("MAILROOM_DNS_SERVER")
        os.environ["MAILROOM_DNS_SERVER"] = address
        try:
            yield address
        finally:
            if previous is None:
                os.environ.pop("MAILROOM_DNS_SERVER", None)
            else:
                os.environ["MAILROOM_DNS_SERVER"] = previous
