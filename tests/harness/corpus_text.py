"""Building blocks of corpus messages: people, text pools, encoded headers, MIME bodies, malformed mail."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import random
from email.utils import format_datetime
from typing import Any

PEOPLE: dict[str, list[tuple[str, str, str]]] = {
    "en": [
        ("Alice Johnson", "alice@acme.example", "en"),
        ("Bob O'Neil", "bob@partner.example", "en"),
        ("Carol Díaz", "carol@design.example", "en"),
        ("Dave Miller", "dave@acme.example", "en"),
        ("Erin Walsh", "erin@bigcorp.example", "en"),
    ],
    "ru": [
        ("Иван Петров", "ivan@romashka.example", "ru"),
        ("Мария Соколова", "maria@romashka.example", "ru"),
        ("Пётр Ёлкин", "petr@zavod.example", "ru"),
        ("Анна Кузнецова", "anna@zavod.example", "ru"),
    ],
    "zh": [
        ("王伟", "wang.wei@beijing-trade.example", "zh"),
        ("李娜", "li.na@beijing-trade.example", "zh"),
        ("张磊", "zhang.lei@shenzhen.example", "zh"),
    ],
}
WORDS = {
    "en": (
        "the contract invoice meeting schedule project deadline review budget quarter client proposal "
        "update draft report shipment order payment delivery team agenda notes call follow up next week "
        "please confirm attached revised version price terms approval status summary issue fixed release "
        "plan estimate scope milestone customer support renewal signed feedback thanks regards a and of "
        "to for with on by we you our this that is are will be"
    ).split(),
    "ru": (
        "договор счёт встреча график проект срок обзор бюджет квартал клиент предложение обновление "
        "черновик отчёт поставка заказ оплата доставка команда повестка заметки звонок следующей неделе "
        "пожалуйста подтвердите приложение исправленная версия цена условия согласование статус итоги "
        "вопрос решён выпуск план оценка этап заказчик поддержка продление подписан отзыв спасибо "
        "с уважением и в на по для мы вы наш это что будет"
    ).split(),
    "zh": (
        "合同 发票 会议 日程 项目 截止 审核 预算 季度 客户 建议 更新 草稿 报告 发货 订单 付款 交付 团队 "
        "议程 记录 电话 下周 请 确认 附件 修订 版本 价格 条款 批准 状态 总结 问题 解决 发布 计划 估算 范围 "
        "里程碑 支持 续约 签署 反馈 谢谢 此致 敬礼 我们 您 的 和 在 是 将"
    ).split(),
}
SUBJECTS = {
    "en": [
        "Quarterly budget review",
        "Invoice {n} for October",
        "Meeting notes: project kickoff",
        "Updated proposal (v{n})",
        "Shipment delayed",
        "Contract renewal {n}",
        "Lunch on Friday?",
    ],
    "ru": [
        "Договор №{n} на поставку",
        "Счёт на оплату {n}",
        "Итоги встречи с ООО «Ромашка»",
        "Согласование цены",
        "Отчёт за квартал",
        "Ёлки к Новому году: заказ {n}",
    ],
    "zh": ["关于合同{n}的确认", "季度报告", "发票{n}请查收", "会议纪要：项目启动", "订单发货通知"],
}
TZ = {"en": [-5, 0, 1], "ru": [3], "zh": [8]}
CHARSETS = {
    "en": [("us-ascii", "7bit"), ("utf-8", "7bit"), ("utf-8", "quoted-printable")],
    "ru": [
        ("utf-8", "quoted-printable"),
        ("utf-8", "base64"),
        ("utf-8", "8bit"),
        ("koi8-r", "8bit"),
        ("windows-1251", "quoted-printable"),
    ],
    "zh": [("utf-8", "base64"), ("gb2312", "base64"), ("utf-8", "8bit")],
}
ATTACHMENTS = [
    ("application/pdf", "report-2024.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"),
    ("image/png", "photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    ("application/zip", "archive.zip", b"PK\x03\x04\x14\x00\x00\x00"),
    ("application/pdf", "Договор поставки.pdf", b"%PDF-1.7\n"),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "报价单.xlsx", b"PK\x03\x04"),
    ("application/octet-stream", "data.bin", b"\x00\x01\x02\x03"),
]


def text_pools(rng: random.Random, size: int = 48000) -> dict[str, str]:
    """Return a pseudo-random block of wrapped text per language to slice message bodies from."""
    pools = {}
    for lang, words in WORDS.items():
        lines, line = [], ""
        width = 36 if lang == "zh" else 72
        sep = "" if lang == "zh" else " "
        total = 0
        while total < size:
            word = rng.choice(words)
            if len(line) + len(word) + 1 > width:
                lines.append(line + ("。" if lang == "zh" and rng.random() < 0.3 else ""))
                total += len(line) + 1
                line = ""
                if rng.random() < 0.12:  # paragraph break
                    lines.append("")
            line = f"{line}{sep}{word}" if line else word.capitalize()
        pools[lang] = "\n".join(lines) + "\n"
    return pools


def text_of_size(pool: str, size: int, rng: random.Random) -> str:
    """Slice about `size` characters of whole lines from a pool, repeating it if needed."""
    start = pool.find("\n", rng.randrange(len(pool) // 2)) + 1
    text = pool[start : start + size]
    while len(text) < size:
        text += pool[: size - len(text)]
    return text[: text.rfind("\n") + 1] or text + "\n"


def _q(data: bytes) -> str:
    return "".join(
        chr(b) if chr(b).isalnum() or chr(b) in "!*+-/" else "_" if b == 32 else f"={b:02X}" for b in data
    )


def encoded_words(text: str, charset: str, encoding: str = "B") -> str:
    """Encode `text` as RFC 2047 encoded-words of at most 75 characters, folded onto continuation lines."""
    prefix = f"=?{charset}?{encoding}?"
    room = 75 - len(prefix) - 2
    words, chunk, used = [], b"", 0
    for ch in text:
        data = ch.encode(charset)
        cost = len(data) if encoding == "B" else len(_q(data))
        if chunk and (used + cost > room // 4 * 3 if encoding == "B" else used + cost > room):
            words.append(chunk)
            chunk, used = b"", 0
        chunk, used = chunk + data, used + cost
    if chunk:
        words.append(chunk)
    encode = (lambda d: base64.b64encode(d).decode()) if encoding == "B" else _q
    return "\n ".join(f"{prefix}{encode(w)}?=" for w in words)


def encode_header(text: str, lang: str, rng: random.Random) -> bytes:
    """Encode a header value: ASCII stays readable, other scripts become UTF-8/KOI8-R/GB2312 encoded-words."""
    if text.isascii():
        return text.encode()
    legacy = {"zh": ("gb2312", "B", 0.4), "ru": ("koi8-r", "Q", 0.3)}.get(lang)
    if legacy and rng.random() < legacy[2] and _encodable(text, legacy[0]):
        return encoded_words(text, legacy[0], legacy[1]).encode()
    return encoded_words(text, "UTF-8", rng.choice("BBQ")).encode()


def _encodable(text: str, charset: str) -> bool:
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


def address(name: str, email: str, lang: str, rng: random.Random) -> bytes:
    """Return a mailbox header value with the display name encoded as needed."""
    if name.isascii():
        quoted = f'"{name}"' if any(c in name for c in ",.'()") else name
        return f"{quoted} <{email}>".encode()
    return encode_header(name, lang, rng) + f" <{email}>".encode()


def subject(lang: str, rng: random.Random) -> str:
    """Return a realistic subject line in the given language."""
    return rng.choice(SUBJECTS[lang]).format(n=rng.randint(100, 9999))


def rfc2822_date(ts: int, lang: str) -> str:
    """Format a timestamp as an RFC 5322 date in a time zone typical for the sender's language."""
    tz = dt.timezone(dt.timedelta(hours=TZ[lang][ts % len(TZ[lang])]))
    return format_datetime(dt.datetime.fromtimestamp(ts, tz))


def received(ts: int, rng: random.Random) -> bytes:
    """Return a plausible Received header."""
    when = format_datetime(dt.datetime.fromtimestamp(ts, dt.UTC))
    return (
        f"Received: from mx{rng.randint(1, 9)}.example.net"
        f" (mx.example.net [198.51.100.{rng.randint(1, 254)}])\n"
        f"\tby mail.example.test with ESMTPS id {rng.getrandbits(48):012X}; {when}"
    ).encode()


def automated_headers(folder: str, rng: random.Random) -> list[bytes]:
    """Return the headers of a mailing list, bulk or auto-generated message."""
    if folder == "Junk":
        return [b"Precedence: bulk", b"X-Spam-Flag: YES", b"X-Spam-Score: 9.7"]
    if rng.random() < 0.5:
        list_id = rng.choice(["news.shop.example", "dev-announce.lists.example", "digest.forum.example"])
        return [
            f"List-Id: Newsletter <{list_id}>".encode(),
            f"List-Unsubscribe: <mailto:unsubscribe@{list_id}>, <https://{list_id}/u/{rng.getrandbits(32):x}>".encode(),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            b"Precedence: list",
        ]
    return [
        rng.choice([b"Auto-Submitted: auto-generated", b"Auto-Submitted: auto-replied"]),
        b"X-Auto-Response-Suppress: All",
        b"Precedence: bulk",
    ]


def _encode_body(text: str, charset: str, cte: str) -> bytes:
    data = text.encode(charset)
    if cte == "base64":
        return base64.encodebytes(data)
    if cte == "quoted-printable":
        return binascii.b2a_qp(data)
    return data


def _text_part(text: str, subtype: str, lang: str, rng: random.Random) -> tuple[list[bytes], bytes]:
    charset, cte = rng.choice(CHARSETS[lang])
    if subtype == "html":
        paragraphs = "".join(f"<p>{p}</p>\n" for p in text.split("\n\n") if p)
        text = f'<html><head><meta charset="{charset}"></head><body>\n{paragraphs}</body></html>\n'
    return [
        f"Content-Type: text/{subtype}; charset={charset}".encode(),
        f"Content-Transfer-Encoding: {cte}".encode(),
    ], _encode_body(text, charset, cte)


class Base64Pool:
    """Base64 lines of seeded random bytes; slicing them is much faster than encoding fresh data."""

    LINE = 77  # 76 characters and a newline, as base64.encodebytes writes them

    def __init__(self, rng: random.Random, size: int = 4 << 20) -> None:
        self.data = base64.encodebytes(rng.randbytes(size // 77 * 57))

    def lines(self, size: int, rng: random.Random) -> bytes:
        """Return about `size` bytes of whole base64 lines, starting at a random line."""
        lines = max(1, size // self.LINE)
        total = len(self.data) // self.LINE
        start = rng.randrange(total) * self.LINE
        out = self.data[start : start + lines * self.LINE]
        while len(out) < lines * self.LINE:
            out += self.data[: lines * self.LINE - len(out)]
        return out


def _attachment(size: int, rng: random.Random, pool: Base64Pool) -> tuple[list[bytes], bytes]:
    ctype, name, magic = rng.choice(ATTACHMENTS)
    first = base64.encodebytes(magic + rng.randbytes(57 - len(magic)))
    if name.isascii():
        disposition = f'attachment; filename="{name}"'
        type_name = f'name="{name}"'
    elif rng.random() < 0.5:  # RFC 2231, as Thunderbird and Apple Mail write it
        quoted = "".join(
            c if c.isascii() and c.isalnum() else "".join(f"%{b:02X}" for b in c.encode()) for c in name
        )
        disposition, type_name = f"attachment;\n filename*=UTF-8''{quoted}", f"name*=UTF-8''{quoted}"
    else:  # RFC 2047 inside a parameter, as Outlook writes it
        word = encoded_words(name, "UTF-8", "B").replace("\n ", "")
        disposition, type_name = f'attachment; filename="{word}"', f'name="{word}"'
    return [
        f"Content-Type: {ctype};\n {type_name}".encode(),
        b"Content-Transfer-Encoding: base64",
        f"Content-Disposition: {disposition}".encode(),
    ], first + pool.lines(size * 4 // 3, rng)


def _multipart(
    subtype: str, parts: list[tuple[list[bytes], bytes]], rng: random.Random
) -> tuple[list[bytes], bytes]:
    boundary = f"----=_Part_{rng.getrandbits(64):016x}"
    chunks = [b"This is a multi-part message in MIME format.\n"]
    for headers, body in parts:
        chunks.append(f"--{boundary}\n".encode() + b"\n".join(headers) + b"\n\n" + body.rstrip(b"\n") + b"\n")
    chunks.append(f"--{boundary}--\n".encode())
    return [f'Content-Type: multipart/{subtype};\n boundary="{boundary}"'.encode()], b"".join(chunks)


def body(
    kind: str,
    lang: str,
    pools: dict[str, str],
    text_size: int,
    target: int,
    rng: random.Random,
    b64: Base64Pool,
) -> tuple[list[bytes], bytes]:
    """Return (content headers, body) of a well-formed message, padded by an attachment up to `target`."""
    text = text_of_size(pools[lang], max(80, text_size - 900), rng)
    if kind == "html":
        part = _text_part(text, "html", lang, rng)
    elif kind in ("alternative", "automated"):
        part = _multipart(
            "alternative", [_text_part(text, "plain", lang, rng), _text_part(text, "html", lang, rng)], rng
        )
    else:
        part = _text_part(text, "plain", lang, rng)
    remaining = target - len(part[1]) - 1200
    if kind == "attachment" or remaining > 3000:
        part = _multipart("mixed", [part, _attachment(max(64, remaining * 57 // 78), rng, b64)], rng)
    return part


def malformed(
    kind: str,
    headers: list[bytes],
    pools: dict[str, str],
    target: int,
    rng: random.Random,
    meta: dict[str, Any],
    b64: Base64Pool,
) -> tuple[list[bytes], bytes, dict[str, Any]]:
    """Return a deliberately broken message of the given malformation kind."""
    text = text_of_size(pools["ru"], max(200, min(target, 12000) - 900), rng)
    if kind == "bad-charset":
        headers = [h for h in headers if not h.startswith(b"Subject:")]
        headers += [
            b"Subject: =?x-unknown-charset?B?" + base64.b64encode("Счёт".encode("cp1251")) + b"?=",
            b'Content-Type: text/plain; charset="x-mac-klingon"',
            b"Content-Transfer-Encoding: 8bit",
        ]
        return headers, text.encode("cp1251"), meta
    if kind == "broken-boundary":
        good = "----=_Part_broken_0001"
        payload = b64.lines(max(100, target - len(text) * 2), rng)
        body_bytes = (
            f"--{good}X\nContent-Type: text/plain; charset=utf-8\n\n{text}\n"
            f'--{good}\nContent-Type: application/octet-stream; name="cut.bin"\n'
            "Content-Transfer-Encoding: base64\n\n"
        ).encode() + payload[: len(payload) * 2 // 3 - 5]
        return headers + [f'Content-Type: multipart/mixed; boundary="{good}"'.encode()], body_bytes, meta
    if kind == "8bit-headers":
        headers = [h for h in headers if not h.startswith((b"Subject:", b"From:"))]
        headers += [
            "Subject: Сверка взаиморасчётов — без кодирования".encode(),
            "From: Пётр Ёлкин <petr@zavod.example>".encode(),
            b"X-Legacy-Note: " + "Примечание в cp1251".encode("cp1251"),
            b"Content-Type: text/plain",
            b"Content-Transfer-Encoding: 8bit",
        ]
        return headers, text.encode("utf-8"), meta
    drop = (b"Date:", b"Message-ID:") if rng.random() < 0.5 else (b"Date:",)
    if b"Message-ID:" in drop:
        meta = {**meta, "id": None}
    headers = [h for h in headers if not h.startswith(drop)]
    return (
        headers + [b"Content-Type: text/plain; charset=utf-8", b"Content-Transfer-Encoding: 8bit"],
        text.encode("utf-8"),
        meta,
    )
