"""A DNS server on 127.0.0.1 (random UDP port) that answers MX queries from a dict, for detection tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dnslib import MX, QTYPE, RCODE, RR
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class MxZone(BaseResolver):
    """Answers MX for the domains it knows (an empty list: no MX records); NXDOMAIN for the rest."""

    def __init__(self, zone: dict[str, list[str]]) -> None:
        self.zone = {k.lower().rstrip("."): v for k, v in zone.items()}
        self.queries: list[str] = []

    def resolve(self, request, handler):  # noqa: ANN001, ANN201 - dnslib's interface
        name = str(request.q.qname).rstrip(".").lower()
        self.queries.append(name)
        reply = request.reply()
        if name not in self.zone:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.MX:
            for pref, host in enumerate(self.zone[name], start=1):
                reply.add_answer(RR(request.q.qname, QTYPE.MX, rdata=MX(host, pref * 10), ttl=60))
        return reply


@contextmanager
def mx_server(zone: dict[str, list[str]]) -> Iterator[tuple[str, MxZone]]:
    """Run the stub; yields ("127.0.0.1:PORT", the zone) for MAILROOM_DNS_SERVER."""
    resolver = MxZone(zone)
    quiet = DNSLogger(prefix=False, logf=lambda _line: None)
    server = DNSServer(resolver, address="127.0.0.1", port=0, logger=quiet)
    thread = threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server.server_address[1]}", resolver
    finally:
        server.server.shutdown()
        server.server.server_close()
