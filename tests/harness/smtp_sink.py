"""An aiosmtpd SMTP sink on loopback that records what arrives and can answer with chosen errors."""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from dataclasses import dataclass, field

from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"
STAGES = ("mail", "rcpt", "data")


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as the sink received it: envelope and the raw DATA bytes (CRLF, dot-unstuffed)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    mail_options: tuple[str, ...] = ()
    received_at: float = field(default_factory=time.time)


@dataclass
class Rejection:
    """A canned SMTP error reply for one stage, optionally for one recipient and a limited number of times."""

    stage: str
    reply: str
    recipient: str | None = None
    times: int | None = None


class _Handler:
    """aiosmtpd handler that applies rejections and hands accepted messages to the sink."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if reply := self.sink._rejection("mail", None):
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if reply := self.sink._rejection("rcpt", address):
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if reply := self.sink._rejection("data", None):
            return reply
        data = envelope.original_content or b""
        message = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(data),
            mail_options=tuple(envelope.mail_options),
        )
        self.sink._record(message)
        return "250 2.0.0 Ok: queued"


class SmtpSink:
    """An SMTP server in a background thread on 127.0.0.1 that keeps every message it accepts."""

    def __init__(self, host: str = HOST, port: int = 0) -> None:
        self.host, self.port = host, port
        self._messages: list[ReceivedMessage] = []
        self._rejections: list[Rejection] = []
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the sink is accepting connections."""
        return self._server is not None

    def start(self) -> SmtpSink:
        """Listen (on the same port as before, after a stop) and serve in a daemon thread."""
        if self.running:
            return self
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="smtp-sink", daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._listen(), loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _listen(self) -> asyncio.base_events.Server:
        def factory() -> SMTP:
            session = SMTP(
                _Handler(self),
                hostname="sink.localhost",
                ident="Mailroom test sink",
                data_size_limit=None,
                enable_SMTPUTF8=True,
                loop=self._loop,
            )
            self._sessions.add(session)
            return session

        assert self._loop is not None
        return await self._loop.create_server(factory, self.host, self.port)

    def stop(self) -> None:
        """Stop listening, drop open sessions and end the thread; recorded messages are kept."""
        loop, server, self._server = self._loop, self._server, None
        if loop is None or server is None:
            return

        async def close() -> None:
            server.close()
            for session in list(self._sessions):
                if session.transport is not None:
                    session.transport.close()
            await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- messages ------------------------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A snapshot of the messages received so far, oldest first."""
        with self._cond:
            return list(self._messages)

    def _record(self, message: ReceivedMessage) -> None:
        with self._cond:
            self._messages.append(message)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 10) -> list[ReceivedMessage]:
        """Wait until at least `count` messages have arrived and return them; raise TimeoutError if not."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(f"sink got {len(self._messages)} of {count} messages within {timeout} s")
            return list(self._messages)

    def clear(self) -> None:
        """Forget the received messages (rejections stay)."""
        with self._cond:
            self._messages.clear()

    # -- canned errors -------------------------------------------------------------------------

    def reject(
        self, stage: str, reply: str, recipient: str | None = None, times: int | None = None
    ) -> Rejection:
        """Answer `stage` ("mail", "rcpt" or "data") with `reply`, e.g. "550 5.1.1 No such user"."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}")
        code = reply[:3]
        if not (code.isdigit() and code[0] in "45" and reply[3:4] in (" ", "")):
            raise ValueError("reply must start with a 4xx or 5xx code")
        rule = Rejection(stage, reply, recipient.lower() if recipient else None, times)
        with self._cond:
            self._rejections.append(rule)
        return rule

    def clear_rejections(self) -> None:
        """Accept everything again."""
        with self._cond:
            self._rejections.clear()

    def _rejection(self, stage: str, address: str | None) -> str | None:
        with self._cond:
            for rule in self._rejections:
                if rule.stage != stage:
                    continue
                if rule.recipient is not None and (address or "").lower() != rule.recipient:
                    continue
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rejections.remove(rule)
                return rule.reply
        return None
