"""Proof that the harness gives real, correctly configured mail servers, accounts and corpora."""

from __future__ import annotations

import email
import email.policy
import smtplib
import socket
import ssl
from email.message import EmailMessage

import pytest
from imapclient import IMAPClient, imap_utf7
from imapclient.exceptions import LoginError

from tests.harness import corpus, fixtures
from tests.harness.fixtures import MailAccount, ServerInfo
from tests.harness.smtp_sink import SmtpSink

pytestmark = pytest.mark.integration

SPECIAL_USE = {
    b"\\Sent": "Sent",
    b"\\Drafts": "Drafts",
    b"\\Trash": "Trash",
    b"\\Junk": "Junk",
    b"\\Archive": "Archive",
}


def test_imaps_login_verifies_against_the_test_ca(mail_account: MailAccount) -> None:
    with mail_account.imap() as client:
        assert client.noop()
    untrusting = ssl.create_default_context()  # system CAs only: the test CA is unknown there
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(
            mail_account.host, port=mail_account.imaps_port, ssl=True, ssl_context=untrusting, timeout=5
        )


def test_starttls_login_works(mail_account: MailAccount) -> None:
    with mail_account.imap(starttls=True) as client:
        assert client.noop()


def test_plaintext_login_before_starttls_is_refused(mail_account: MailAccount) -> None:
    client = IMAPClient(mail_account.host, port=mail_account.imap_port, ssl=False, timeout=5)
    try:
        assert {b"STARTTLS", b"LOGINDISABLED"} <= set(client.capabilities())
        with pytest.raises(LoginError, match="PRIVACYREQUIRED|Plaintext authentication disallowed"):
            client.login(mail_account.email, mail_account.password)
    finally:
        client.shutdown()


def test_smtp_auth_before_starttls_is_refused(mail_account: MailAccount) -> None:
    with smtplib.SMTP(mail_account.host, mail_account.smtp_port, timeout=5) as client:
        client.ehlo()
        assert client.has_extn("starttls") and not client.esmtp_features.get("auth", "").strip()
        code, reply = client.docmd("AUTH", "PLAIN")
        assert code in (523, 530, 538), reply  # Dovecot: 523 5.7.10


def test_new_user_can_log_in_immediately(mail_server: ServerInfo) -> None:
    for i in range(3):
        email_address = f"immediate-{i}-{id(mail_server)}@example.test"
        mail_server.add_user(email_address, "pw-" + str(i))
        with IMAPClient(
            mail_server.host, port=mail_server.imaps_port, ssl_context=mail_server.ssl_context(), timeout=5
        ) as client:
            client.login(email_address, "pw-" + str(i))


def test_fresh_user_sees_inbox_and_special_use_folders(mail_account: MailAccount) -> None:
    with mail_account.imap() as client:
        folders = client.list_folders()
        assert client.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"] == 0
    names = {name for _, _, name in folders}
    assert "INBOX" in names
    special = {flag: name for flags, _, name in folders for flag in flags if flag in SPECIAL_USE}
    assert special == SPECIAL_USE
    assert {delim for _, delim, _ in folders} == {b"/"}


def test_condstore_qresync_idle_after_login(mail_account: MailAccount) -> None:
    with mail_account.imap() as client:
        caps = set(client.capabilities())
    assert {b"CONDSTORE", b"QRESYNC", b"IDLE", b"SPECIAL-USE", b"MOVE", b"UIDPLUS", b"ENABLE"} <= caps


def test_corpus_folders_and_counts_match_the_server(corpus_account: MailAccount) -> None:
    stats = corpus_account.corpus
    assert stats is not None and stats.total_messages == 200
    cyrillic = "Clients/Ромашка"
    assert (
        stats.directories[cyrillic]
        == ".Clients.&BCAEPgQ8BDAESAQ6BDA-"
        == "." + imap_utf7.encode(cyrillic).decode().replace("/", ".")
    )
    assert (corpus_account.maildir / stats.directories[cyrillic] / "cur").is_dir()
    with corpus_account.imap() as client:
        statuses = corpus.warm(client, fetch=True)
        listed = {name: flags for flags, _, name in client.list_folders()}
        assert cyrillic in listed and "Clients/北京贸易" in listed
        assert b"\\Noselect" in listed["Clients"]  # implicit parent, not a real folder
        assert {
            name: s[b"MESSAGES"] for name, s in statuses.items() if name in stats.folders
        } == stats.folders
        assert set(stats.folders) <= set(statuses)
        assert sum(s[b"MESSAGES"] for s in statuses.values()) == 200
        # UIDs follow generation (date) order, flags come from the Maildir info, bodies are byte-exact.
        expected = [
            m for m in corpus.generate(200, 8000, 0, owner_email=corpus_account.email) if m.folder == cyrillic
        ]
        client.select_folder(cyrillic, readonly=True)
        uids = client.search("ALL")
        fetched = client.fetch(uids, ["BODY.PEEK[]", "FLAGS", "RFC822.SIZE"])
    assert len(uids) == len(expected)
    for uid, message in zip(sorted(uids), expected, strict=True):
        assert fetched[uid][b"BODY[]"] == message.wire
        assert fetched[uid][b"RFC822.SIZE"] == len(message.wire)
        assert set(fetched[uid][b"FLAGS"]) - {b"\\Recent"} == set(message.imap_flags)


def test_corpus_is_deterministic_and_varied() -> None:
    first = list(corpus.generate(120, 6000, seed=7))
    again = list(corpus.generate(120, 6000, seed=7))
    other = list(corpus.generate(120, 6000, seed=8))
    assert [m.raw for m in first] == [m.raw for m in again]
    assert [m.raw for m in first] != [m.raw for m in other]
    kinds = {m.kind for m in first}
    assert set(corpus.MALFORMED_KINDS) <= kinds and {"automated", "attachment", "alternative"} <= kinds
    assert any(m.in_reply_to for m in first) and any("F" in m.flags for m in first)
    parsed = [email.message_from_bytes(m.raw, policy=email.policy.default) for m in first]
    subjects = " ".join(str(p["subject"]) for p in parsed if p["subject"] and m_is_ok(p))
    assert any("\u0400" <= ch <= "\u04ff" for ch in subjects) and any(
        "\u4e00" <= ch <= "\u9fff" for ch in subjects
    )
    assert 0.8 < sum(len(m.raw) for m in first) / len(first) / 6000 < 1.25


def m_is_ok(message: email.message.Message) -> bool:
    """Whether a parsed message has a decodable Subject (malformed ones may not)."""
    try:
        str(message["subject"])
    except Exception:
        return False
    return True


def _message(account: MailAccount, to: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = account.email
    msg["To"] = to
    msg["Subject"] = "Отчёт 报告 harness check"
    msg["Message-ID"] = f"<harness-{account.email}>"
    msg.set_content("Привет!\n.\nA line that is only a dot is above.\n")
    msg.add_attachment(
        bytes(range(256)) * 8, maintype="application", subtype="octet-stream", filename="b.bin"
    )
    return msg.as_bytes(policy=email.policy.SMTP)


@pytest.mark.parametrize("starttls", [True, False], ids=["starttls", "implicit-tls"])
def test_submission_relays_byte_for_byte(
    mail_account: MailAccount, smtp_sink: SmtpSink, starttls: bool
) -> None:
    raw = _message(mail_account, "friend@dest.test")
    with mail_account.smtp(starttls=starttls) as client:
        assert client.sendmail(mail_account.email, ["friend@dest.test"], raw) == {}
    (received,) = smtp_sink.wait_for(1, timeout=10)
    assert received.mail_from == mail_account.email and received.rcpt_tos == ("friend@dest.test",)
    # Dovecot prepends exactly one Received header; everything after it is the client's bytes.
    assert received.data.startswith(b"Received: ") and received.data.endswith(raw)
    prefix = email.message_from_bytes(received.data[: -len(raw)] + b"\r\n", policy=email.policy.default)
    assert list(prefix.keys()) == ["Received"]
    parsed = email.message_from_bytes(received.data, policy=email.policy.default)
    assert parsed["Subject"] == "Отчёт 报告 harness check"
    attachment = next(parsed.iter_attachments())
    assert attachment.get_content() == bytes(range(256)) * 8


def test_wrong_smtp_password_gets_535(mail_account: MailAccount) -> None:
    with mail_account.smtp(login=False) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as failure:
            client.login(mail_account.email, "not-the-password")
    assert failure.value.smtp_code == 535


def test_sink_error_modes(mail_account: MailAccount, smtp_sink: SmtpSink) -> None:
    raw = _message(mail_account, "ok@dest.test")
    smtp_sink.reject("rcpt", "550 5.1.1 No such user", recipient="gone@dest.test")
    smtp_sink.reject("data", "451 4.3.0 Try again later", times=1)
    with mail_account.smtp() as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail(mail_account.email, ["gone@dest.test"], raw)
        assert refused.value.recipients["gone@dest.test"][0] == 550
        with pytest.raises(smtplib.SMTPDataError) as temporary:
            client.sendmail(mail_account.email, ["ok@dest.test"], raw)
        assert temporary.value.smtp_code == 451
        partly = client.sendmail(mail_account.email, ["ok@dest.test", "gone@dest.test"], raw)
        assert list(partly) == ["gone@dest.test"] and partly["gone@dest.test"][0] == 550
    (received,) = smtp_sink.wait_for(1)
    assert received.rcpt_tos == ("ok@dest.test",)


def test_servers_stop_and_start(mail_account: MailAccount, smtp_sink: SmtpSink) -> None:
    server = mail_account.server
    server.submission_server.stop()
    for port in (mail_account.smtp_port, mail_account.smtps_port):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((mail_account.host, port), timeout=2)
    server.submission_server.start()
    smtp_sink.stop()  # relay down: submission answers with a temporary error
    raw = _message(mail_account, "later@dest.test")
    with mail_account.smtp() as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as down:
            client.sendmail(mail_account.email, ["later@dest.test"], raw)
    assert 400 <= down.value.smtp_code < 500
    smtp_sink.start()
    with mail_account.smtp(starttls=False) as client:
        client.sendmail(mail_account.email, ["later@dest.test"], raw)
    assert smtp_sink.wait_for(1)[0].rcpt_tos == ("later@dest.test",)
    server.imap_server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((mail_account.host, mail_account.imaps_port), timeout=2)
    server.imap_server.start()
    with mail_account.imap(starttls=True) as client:
        assert client.noop()


@pytest.mark.parametrize("kind", ["expired", "wrong_host", "other_ca"])
def test_bad_certificates_are_rejected(bad_tls_server, mail_account: MailAccount, kind: str) -> None:  # type: ignore[no-untyped-def]
    bad = bad_tls_server(kind)
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(bad.host, port=bad.imaps_port, ssl=True, ssl_context=bad.ssl_context(), timeout=5)
    with pytest.raises(ssl.SSLCertVerificationError):
        smtplib.SMTP_SSL(bad.host, bad.smtps_port, context=bad.ssl_context(), timeout=5)


def test_missing_dovecot_fails_and_names_the_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fixtures, "find_dovecot", lambda: None)
    monkeypatch.setattr(fixtures.os, "geteuid", lambda: 1000)  # not root: no apt-get, a clear failure
    with pytest.raises(
        pytest.fail.Exception, match="apt-get install -y dovecot-core dovecot-imapd dovecot-submissiond"
    ):
        fixtures.require_dovecot()
