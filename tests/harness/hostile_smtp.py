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


def smtp_session(password: str = "", auth: str = "PLAIN LOGIN") -> Step:
    """Answer EHLO (offering AUTH *auth*), AUTH (accepting *password* when given) and QUIT after TLS."""

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
            else:
                peer.send("502 5.5.1 not here")

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
