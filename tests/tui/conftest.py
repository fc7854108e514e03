"""Pilot tests build the app exactly as the snapshot tests do, and run as coroutines."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from tests.snapshots.conftest import alice, make_app, stable_environment, store  # noqa: F401 - fixtures


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests in a fresh event loop (no async plugin is installed)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**arguments))
    return True
