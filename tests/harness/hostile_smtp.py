"""The SMTP half of the hostile server: an honest STARTTLS preface and an AUTH-checking session."""

from __future__ import annotations

from tests.harness.ca import CertFiles
from tests.harness.hostile import Command, Peer, ScriptError, Step, b64_text, expect, send, tls


def smtp_starttls_preface(cert: CertFiles) -> list[Step]:
    """An honest SMTP greeting, EHLO offering STARTTLS, STARTTLS, then the TLS handshake with *cert*."""
    return [
        send("220 hostile.test ESMTP ready"),
        expect("EHLO", "250-hostile.test", "250-PIPELINING", "250 STARTTLS"),
        expect("STARTTLS", "220 2.0.0 go ahead"),
        tls(cert),
    ]


def smtp_session(
    password: str = "", auth: str = "PLAIN LOGIN", replies: dict[str, str] | None = None
) -> Step:
    """Answer EHLO (offering AUTH *auth*), AUTH (accepting *password* when given) and QUIT after TLS, and
    take mail: MAIL, RCPT, DATA. *replies* replaces the answer to "MAIL", "RCPT", "DATA" (instead of 354)
    or "DOT" (the end of the data), e.g. {"RCPT": "552 5.2.2 mailbox full"}; `received` of the step lists
    the data of every message accepted."""
    replies = {k.upper(): v for k, v in (replies or {}).items()}
    received: list[bytes] = []

    def step(peer: Peer) -> None:
        while True:
            try:
                command = peer.read_command()
            except ScriptError:
                return
            if command.name in ("EHLO", "HELO"):
                peer.send("250-hostile.test", *([f"250-AUTH {auth}"] if auth else []), "250 8BITMIME")
            elif command.name == "AUTH":
                given = _smtp_auth_password(peer, command)
                peer.send("235 2.7.0 ok" if password and given == password else "535 5.7.8 no")
            elif command.name == "QUIT":
                peer.send("221 bye")
                return
            elif command.name in ("NOOP", "RSET"):
                peer.send("250 ok")
            elif command.name in ("MAIL", "RCPT"):
                peer.send(replies.get(command.name, "250 2.1.0 ok"))
            elif command.name == "DATA":
                if "DATA" in replies:
                    peer.send(replies["DATA"])
                    continue
                peer.send("354 go ahead")
                data = bytearray()
                while (line := peer.read_line()) != b".\r\n":
                    data += line[1:] if line.startswith(b".") else line
                reply = replies.get("DOT", "250 2.0.0 queued")
                if reply.startswith("250"):
                    received.append(bytes(data))
                peer.send(reply)
            else:
                peer.send("502 5.5.1 not here")

    step.received = received  # type: ignore[attr-defined]
    return step


def _smtp_auth_password(peer: Peer, command: Command) -> str:
    words = command.args.split()
    mechanism = words[0].upper() if words else ""
    if mechanism == "PLAIN":
        token = words[1] if len(words) > 1 else (peer.send("334 "), peer.read_line().decode().strip())[1]
        return b64_text(token).split("\0")[-1]
    if mechanism == "LOGIN":
        peer.send("334 VXNlcm5hbWU6")
        peer.read_line()
        peer.send("334 UGFzc3dvcmQ6")
        return b64_text(peer.read_line().decode().strip())
    return ""
