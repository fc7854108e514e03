"""Composing mail, pure: the draft, its recipients and signature, and the MIME bytes it becomes.

Nothing here touches the database or the network; `store/outbox.py` stores what `build_message` returns.
Drafts that start from stored mail (reply, reply to all, forward) are made in `store/drafts.py`.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING

from store.errors import Invalid

if TYPE_CHECKING:
    from store.mailboxes import Mailbox

# SMTP line endings, RFC 2047 words in headers, and bodies that need no 8BITMIME (quoted-printable or base64).
POLICY = policy.SMTP.clone(cte_type="7bit")
MAX_ATTACHMENT_BYTES = 35 << 20  # all attachments of one message together
MAX_REFERENCES = 20  # ids kept in References: the first and the newest, as RFC 5322 3.6.4 allows trimming
SIGNATURE_SEPARATOR = "-- "  # RFC 3676 4.3: "-- " alone on a line starts a signature
# Everything str.splitlines() breaks on, and NUL: none of it may reach a header.
_BREAKS = "\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_CONTROLS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_MSG_ID = re.compile(r"<([^<>\s\x00-\x1f\x7f]{1,250})>")
_ALLOWED_HEADERS = {
    "top": {
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    },
    "part": {"content-type", "content-transfer-encoding", "content-disposition"},
}


SYSTEM_FILES = (Path("/proc"), Path("/sys"), Path("/dev"))  # pseudo-files: process environments, devices


@dataclass(frozen=True)
class AttachRules:
    """Which files may be read into a message: a regular file inside one of *folders* (none given: any
    folder), never one of the *private* files or folders (store/private.py: the database, raw copies,
    secrets and settings of the installation) nor a system pseudo-file. Links are followed first, so a
    link cannot lead around the rules."""

    folders: tuple[Path, ...] = ()
    private: tuple[Path, ...] = ()

    def check(self, path: str | Path) -> Path:
        """The real path of the file *path* names, or Invalid saying why it cannot be attached."""
        p = Path(path).expanduser()
        try:
            real = p.resolve(strict=True)
        except OSError as exc:
            raise Invalid({"attachments": f"cannot read {p}: {exc.strerror or exc}"}) from None
        except RuntimeError:  # a symlink loop
            raise Invalid({"attachments": f"cannot read {p}: too many levels of links"}) from None
        if any(_within(real, root) for root in (*SYSTEM_FILES, *self.private)):
            raise Invalid(
                {
                    "attachments": f"{p.name} is one of Mailroom's own or the system's files; "
                    "it cannot be attached"
                }
            )
        if self.folders and not any(_within(real, folder) for folder in self.folders):
            where = ", ".join(str(f) for f in self.folders)
            raise Invalid({"attachments": f"files can be attached only from {where} (AttachmentFolders)"})
        if not real.is_file():
            raise Invalid({"attachments": f"{p.name} is not a regular file"})
        return real


def _within(real: Path, root: Path) -> bool:
    """Whether *real* (a resolved path) is *root* or lies inside it; *root* need not exist."""
    try:
        root = root.expanduser().resolve()
    except (OSError, RuntimeError):
        return False
    return real == root or root in real.parents


@dataclass(frozen=True)
class Attachment:
    """A file attached to a draft, held as bytes so a later change or removal of the file loses nothing."""

    filename: str
    content_type: str
    data: bytes

    @classmethod
    def from_path(cls, path: str | Path, rules: AttachRules = AttachRules()) -> Attachment:  # noqa: B008
        """Read a file now if *rules* allow it; its name (without folders) becomes the attachment's name."""
        p = Path(path).expanduser()
        real = rules.check(p)
        try:
            data = real.read_bytes()
        except OSError as exc:
            raise Invalid({"attachments": f"cannot read {p}: {exc.strerror or exc}"}) from None
        return cls(p.name, guess_type(p.name), data)


@dataclass(frozen=True)
class Draft:
    """What the user composed; the signature is not in `body`: it follows the sender (see `full_text`)."""

    from_mailbox_id: int
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    subject: str = ""
    body: str = ""
    quoted: str = ""  # a reply's quoted original, placed below the signature
    attachments: tuple[Path | Attachment, ...] = ()  # paths are read when the draft is queued
    in_reply_to: str = ""
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("to", "cc", "bcc", "attachments", "references"):
            value = getattr(self, name)
            if isinstance(value, str | Path):
                value = (value,)
            object.__setattr__(self, name, tuple(value))
        object.__setattr__(
            self, "attachments", tuple(a if isinstance(a, Attachment) else Path(a) for a in self.attachments)
        )


@dataclass(frozen=True)
class Envelope:
    """Who the SMTP transaction names: MAIL FROM and every RCPT TO (Bcc included)."""

    mail_from: str
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class Built:
    """A draft turned into bytes: the message as sent, its envelope, and the Bcc line the Sent copy keeps."""

    raw: bytes
    message_id: str
    envelope: Envelope
    bcc_header: bytes = b""
    attachments: tuple[Attachment, ...] = field(default=(), repr=False)


# -- text hygiene ----------------------------------------------------------------------------------


def one_line(value: str) -> str:
    """Neutralise text bound for a header: every line break and control character becomes a space."""
    return re.sub(r"\s{2,}", " ", _CONTROLS.sub(" ", value)).strip()


def refuse_breaks(value: str, field_name: str) -> str:
    """Refuse typed text with a line break or NUL (it could start a header of its own)."""
    if any(c in value for c in _BREAKS):
        raise Invalid({field_name: "must be one line (no line breaks)"})
    return value


def safe_filename(name: str) -> str:
    """A file name fit for Content-Disposition: no folders, no control characters, at most 200 characters."""
    base = one_line(unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1]))
    base = base.strip(". ") or "attachment"
    if len(base) > 200:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 200 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 16 else base[:200]
    return base


def guess_type(filename: str) -> str:
    """The MIME type a file name suggests, application/octet-stream when unknown."""
    kind, encoding = mimetypes.guess_type(filename, strict=False)
    if not kind or encoding or "/" not in kind:
        return "application/octet-stream"
    return kind


# -- addresses -------------------------------------------------------------------------------------


def split_list(value: str) -> list[str]:
    """Split typed recipients on commas and semicolons that are not inside quotes or angle brackets."""
    items, buf, quoted, angle, escaped = [], [], False, False, False
    for ch in value:
        if escaped:
            buf.append(ch)
            escaped = False
            continue
        if ch == "\\" and quoted:
            escaped = True
            buf.append(ch)
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == "<" and not quoted:
            angle = True
        elif ch == ">" and not quoted:
            angle = False
        elif ch in ",;" and not quoted and not angle:
            items.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    items.append("".join(buf))
    return [i.strip() for i in items if i.strip()]


def check_address(addr: str, field_name: str) -> str:
    """Validate an address (syntax only) and return it in ASCII form (an IDN domain in Punycode)."""
    from email_validator import EmailNotValidError, validate_email

    refuse_breaks(addr, field_name)
    try:
        result = validate_email(
            addr.strip(), check_deliverability=False, test_environment=True, allow_smtputf8=False
        )
    except EmailNotValidError as exc:
        raise Invalid({field_name: f"'{addr.strip()}': {exc}"}) from None
    return result.ascii_email or result.normalized


def parse_address(item: str, field_name: str) -> Address:
    """One recipient typed as `ann@example.com`, `Ann <ann@example.com>` or `"Doe, Ann" <ann@example.com>`."""
    refuse_breaks(item, field_name)
    item = item.strip()
    name, addr = "", item
    if item.endswith(">") and "<" in item:
        lt = item.rfind("<")
        name, addr = item[:lt].strip(), item[lt + 1 : -1]
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = re.sub(r"\\(.)", r"\1", name[1:-1])
    return Address(display_name=one_line(name), addr_spec=check_address(addr, field_name))


def parse_addresses(values: Iterable[str], field_name: str) -> tuple[Address, ...]:
    """Every recipient of one field (each value may hold several, separated by commas)."""
    out: list[Address] = []
    for value in values:
        refuse_breaks(value, field_name)
        out += [parse_address(item, field_name) for item in split_list(value)]
    return tuple(out)


def format_address(address: str, name: str = "") -> str:
    """`Name <address>` as a user types it back (quoted when the name needs it)."""
    name = one_line(name)
    if not name:
        return address
    if re.search(r'[,;<>"@()\\:\[\]]', name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


def sender_address(box: Mailbox) -> Address:
    """The From of a mailbox: its alias as the display name (RFC 2047-encoded on the wire when not ASCII)."""
    return Address(display_name=one_line(box.alias), addr_spec=check_address(box.email, "from"))


def sender_label(box: Mailbox) -> str:
    """How the From choice reads: `Alias <email>`, or the address alone."""
    return format_address(box.email, box.alias)


def default_sender(boxes: Sequence[Mailbox], user_id: int) -> Mailbox | None:
    """The preselected From: the user's own default sender among *boxes*, else the first one."""
    for box in boxes:
        if box.is_default_sender and box.owner_id == user_id:
            return box
    return boxes[0] if boxes else None


# -- text: signature ---------------------------------------------------------------------------------


def signature_block(box: Mailbox) -> str:
    """The sender's signature with its `-- ` separator, or '' when the mailbox uses none."""
    text = box.signature.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    if not box.use_signature or not text.strip():
        return ""
    if text.splitlines()[0].rstrip() == "--":
        text = "\n".join(text.splitlines()[1:])
    return f"{SIGNATURE_SEPARATOR}\n{text}"


def full_text(draft: Draft, box: Mailbox) -> str:
    """The body as sent: what the user wrote, then the sender's signature, then the quoted original."""
    parts = [_lines(draft.body).rstrip("\n")]
    sig = signature_block(box)
    if sig:
        parts.append(sig)
    if draft.quoted.strip():
        parts.append(_lines(draft.quoted).rstrip("\n"))
    return "\n\n".join(p for p in parts if p) + "\n"


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def clean_id(value: str) -> str:
    """A Message-ID without brackets, or '' when it could not be written safely into a header."""
    value = value.strip()
    m = _MSG_ID.search(value if value.startswith("<") else f"<{value}>")
    return m.group(1) if m else ""


# -- validation and MIME ---------------------------------------------------------------------------


def load_attachments(draft: Draft, rules: AttachRules = AttachRules()) -> Draft:  # noqa: B008
    """The draft with every attachment path read into bytes (the one moment files are read), as *rules*
    allow."""
    loaded = tuple(
        a if isinstance(a, Attachment) else Attachment.from_path(a, rules) for a in draft.attachments
    )
    total = sum(len(a.data) for a in loaded)
    if total > MAX_ATTACHMENT_BYTES:
        raise Invalid(
            {
                "attachments": f"attachments total {total >> 20} MB; at most "
                f"{MAX_ATTACHMENT_BYTES >> 20} MB can be sent"
            }
        )
    return replace(draft, attachments=loaded)


def check(draft: Draft) -> tuple[tuple[Address, ...], tuple[Address, ...], tuple[Address, ...]]:
    """Validate what the user typed; raise Invalid with one message per field, or return To, Cc and Bcc."""
    errors: dict[str, str] = {}
    parsed: dict[str, tuple[Address, ...]] = {}
    for name in ("to", "cc", "bcc"):
        try:
            parsed[name] = parse_addresses(getattr(draft, name), name)
        except Invalid as exc:
            errors.update(exc.errors)
            parsed[name] = ()
    if not errors and not any(parsed.values()):
        errors["to"] = "add at least one recipient"
    if any(c in draft.subject for c in _BREAKS):
        errors["subject"] = "must be one line (no line breaks)"
    if "\x00" in draft.body:
        errors["body"] = "must not contain NUL characters"
    if errors:
        raise Invalid(errors)
    return parsed["to"], parsed["cc"], parsed["bcc"]


def new_message_id(box: Mailbox) -> str:
    """A fresh `<…@domain>` Message-ID in the sender's domain (RFC 5322 3.6.4)."""
    domain = check_address(box.email, "from").rpartition("@")[2]
    return make_msgid(domain=domain)


def build_message(
    draft: Draft,
    box: Mailbox,
    now: datetime,
    message_id: str,
    rules: AttachRules = AttachRules(),  # noqa: B008
) -> Built:
    """The draft as RFC 5322 bytes from *box*, dated *now*, with *message_id*, its files read as *rules*
    allow; header injection is impossible because typed header text is refused or neutralised and the
    result is parsed back and checked."""
    to, cc, bcc = check(draft)
    draft = load_attachments(draft, rules)
    msg = EmailMessage(policy=POLICY)
    msg["From"] = sender_address(box)
    msg["To"] = to if to or cc else "undisclosed-recipients:;"
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = one_line(draft.subject)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id
    reply_to_id = clean_id(draft.in_reply_to)
    refs = [r for r in (clean_id(x) for x in draft.references) if r]
    if len(refs) > MAX_REFERENCES:
        refs = refs[:1] + refs[-(MAX_REFERENCES - 1) :]
    if reply_to_id:
        msg["In-Reply-To"] = f"<{reply_to_id}>"
    if refs:
        msg["References"] = " ".join(f"<{r}>" for r in refs)
    msg.set_content(full_text(draft, box), subtype="plain", charset="utf-8")
    attachments = tuple(a for a in draft.attachments if isinstance(a, Attachment))
    if attachments:
        msg.make_mixed()
        for att in attachments:
            msg.attach(_attachment_part(att))
    raw = msg.as_bytes()
    expected = {_attachment_name(a) for a in attachments}
    verify(raw, expected)
    rcpts = _unique(a.addr_spec for a in (*to, *cc, *bcc))
    return Built(
        raw, message_id, Envelope(sender_address(box).addr_spec, rcpts), bcc_header(bcc), attachments
    )


def _attachment_name(att: Attachment) -> str:
    return safe_filename(att.filename)


def _attachment_part(att: Attachment) -> MIMEPart:
    part = MIMEPart(policy=POLICY)
    kind = att.content_type if re.fullmatch(r"[\w.+-]+/[\w.+-]+", att.content_type or "", re.A) else ""
    kind = kind or "application/octet-stream"
    maintype, subtype = kind.lower().split("/", 1)
    if maintype in ("multipart", "message"):
        maintype, subtype = "application", "octet-stream"
    part.set_content(att.data, maintype, subtype, disposition="attachment", filename=_attachment_name(att))
    return part


def _unique(addresses: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for a in addresses:
        seen.setdefault(a.lower(), a)
    return tuple(seen.values())


def bcc_header(bcc: Sequence[Address]) -> bytes:
    """A `Bcc:` field for the Sent copy only (the message as sent carries none), or b''."""
    if not bcc:
        return b""
    holder = EmailMessage(policy=POLICY)
    holder["Bcc"] = tuple(bcc)
    return holder.as_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n"


def verify(raw: bytes, filenames: set[str] | None = None) -> None:
    """Parse built bytes back and refuse them unless every header is one we wrote, exactly once, in ASCII."""
    from email.parser import BytesParser

    head = raw.split(b"\r\n\r\n", 1)[0]
    if not head.isascii() or b"\n" in head.replace(b"\r\n", b"") or b"\r" in head.replace(b"\r\n", b""):
        raise ValueError("built message has a header that is not plain CRLF ASCII")
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    if msg.defects:
        raise ValueError(f"built message has defects: {msg.defects}")
    _check_names(msg.keys(), "top")
    found = set()
    for part in msg.walk():
        if part is msg:
            continue
        _check_names([k for k in part.keys() if k.lower() != "mime-version"], "part")
        if part.get_filename() is not None:
            found.add(part.get_filename())
    if filenames is not None and found != filenames:
        raise ValueError("built message's attachment names do not match what was attached")


def _check_names(names: Sequence[str], where: str) -> None:
    lower = [n.lower() for n in names]
    unknown = set(lower) - _ALLOWED_HEADERS[where]
    repeated = {n for n in lower if lower.count(n) > 1}
    if unknown or repeated:
        raise ValueError(f"built message has unexpected headers: {sorted(unknown | repeated)}")


def attachments_of(raw: bytes) -> tuple[Attachment, ...]:
    """The attachments of a built message as the exact bytes attached (to edit a message that failed)."""
    from email.parser import BytesParser

    msg = BytesParser(policy=policy.default).parsebytes(raw)
    return tuple(
        Attachment(
            part.get_filename() or "attachment", part.get_content_type(), part.get_payload(decode=True)
        )
        for part in msg.iter_attachments()
    )
