"""What a signature block says about its writer: phone numbers, job title, company. Pure text in, facts out.

Precision matters more than recall: a fact is reported only when its line has the expected shape, and
nothing outside the signature block (after "-- " or a closing such as "Best regards") is ever read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_BLOCK_LINES = 12
MAX_LINE = 100  # longer lines are prose or disclaimers, not signature lines

# Where quoted or forwarded mail starts: everything below is someone else's.
_QUOTE_START = re.compile(
    r"^(>|on\s.{3,200}\swrote:?$|am\s.{3,200}\sschrieb.{0,200}:$|le\s.{3,200}\sa écrit\s?:$"
    r"|.{0,200}\s(пишет|писал|писала|писал\(а\)|написал|написала|написал\(а\)):$"
    r"|-{2,}\s*(original message|ursprüngliche nachricht|исходное сообщение|пересылаемое сообщение"
    r"|forwarded message|weitergeleitete nachricht)|_{10,}$"
    r"|(from|von|от|发件人|寄件者|发送时间)\s?[:：]\s|在.{3,100}写道[:：]?$|-{5,}\s*原始邮件)",
    re.IGNORECASE,
)
_CLOSINGS = (
    "best regards|kind regards|warm regards|warmest regards|with best regards|with kind regards|regards|"
    "best wishes|all the best|best|many thanks|thanks a lot|thanks again|thank you|thanks|cheers|sincerely|"
    "yours sincerely|sincerely yours|yours faithfully|yours truly|respectfully|br|rgds|"
    "с уважением|с наилучшими пожеланиями|всего доброго|всего наилучшего|спасибо|заранее спасибо|благодарю|"
    "искренне ваш|искренне ваша|"
    "mit freundlichen grüßen|mit freundlichen grüssen|mit freundlichem gruß|mit freundlichem gruss|"
    "freundliche grüße|freundliche grüsse|viele grüße|viele grüsse|beste grüße|beste grüsse|liebe grüße|"
    "herzliche grüße|schöne grüße|mfg|vg|lg|gruß|grüße|vielen dank|danke|"
    "cordialement|bien à vous|saludos|atentamente|un saludo|"
    "此致敬礼|此致|敬礼|祝好|顺祝商祺|顺颂商祺|顺颂时祺|祝商祺|谢谢|多谢|祝工作顺利|祝一切顺利|致敬"
)
_CLOSING = re.compile(rf"^({_CLOSINGS})(?![^\W\d_])\s*[,.!，。！]*\s*(?P<rest>.*)$", re.IGNORECASE)
_DISCLAIMER = re.compile(
    r"(confidential|this (e-?mail|message)|disclaimer|diese (e-?mail|nachricht)|vertraulich"
    r"|это (письмо|сообщение)|конфиденциальн|本邮件|保密|please consider the environment)",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"\s+[|·•–—]\s+|\s*\|\s*|\t+")
_MARKUP = re.compile(r"^[*_#>\s]+|[*_\s]+$")
_URLISH = re.compile(r"(https?://|www\.|\.(com|de|ru|cn|org|net|io)\b|@)", re.IGNORECASE)

# -- job titles ------------------------------------------------------------------------------------
_TITLE_WORDS = {
    "manager",
    "director",
    "head",
    "chief",
    "officer",
    "ceo",
    "cto",
    "cfo",
    "coo",
    "cio",
    "cmo",
    "vp",
    "president",
    "founder",
    "co-founder",
    "cofounder",
    "partner",
    "owner",
    "engineer",
    "developer",
    "consultant",
    "analyst",
    "specialist",
    "coordinator",
    "designer",
    "architect",
    "accountant",
    "administrator",
    "assistant",
    "executive",
    "lead",
    "associate",
    "representative",
    "advisor",
    "adviser",
    "counsel",
    "attorney",
    "lawyer",
    "secretary",
    "supervisor",
    "principal",
    "strategist",
    "scientist",
    "researcher",
    "recruiter",
    "editor",
    "producer",
    "buyer",
    "controller",
    "treasurer",
    "intern",
    "geschäftsführer",
    "geschäftsführerin",
    "inhaber",
    "inhaberin",
    "vorstand",
    "prokurist",
    "prokuristin",
    "директор",
    "менеджер",
    "руководитель",
    "начальник",
    "инженер",
    "бухгалтер",
    "специалист",
    "аналитик",
    "юрист",
    "консультант",
    "разработчик",
    "программист",
    "заместитель",
    "президент",
    "основатель",
    "владелец",
    "помощник",
    "ассистент",
    "секретарь",
    "дизайнер",
    "архитектор",
    "координатор",
    "администратор",
    "технолог",
    "экономист",
    "маркетолог",
    "председатель",
    "партнер",
    "партнёр",
}
# German compounds (Vertriebsleiter, Softwareentwicklerin) and Russian inflections end or start with these.
_TITLE_STEMS = (
    "leiter",
    "leiterin",
    "führer",
    "führerin",
    "entwickler",
    "entwicklerin",
    "berater",
    "beraterin",
    "ingenieur",
    "ingenieurin",
    "manager",
    "managerin",
    "direktor",
    "direktorin",
    "referent",
    "referentin",
    "assistent",
    "assistentin",
    "sachbearbeiter",
    "sachbearbeiterin",
    "kaufmann",
    "kauffrau",
    "spezialist",
    "spezialistin",
    "architekt",
    "architektin",
)
_RU_STEMS = (
    "директор",
    "менеджер",
    "руководител",
    "начальник",
    "инженер",
    "бухгалтер",
    "специалист",
    "аналитик",
    "юрист",
    "консультант",
    "разработчик",
    "программист",
    "заместител",
)
_ZH_TITLES = (
    "经理",
    "总监",
    "主管",
    "工程师",
    "总裁",
    "董事",
    "主任",
    "助理",
    "顾问",
    "创始人",
    "负责人",
    "专员",
    "会计",
    "律师",
    "设计师",
    "秘书",
    "经理人",
    "合伙人",
    "首席",
)
_SMALL_WORDS = {
    "of",
    "and",
    "for",
    "the",
    "to",
    "at",
    "in",
    "&",
    "/",
    "-",
    "de",
    "du",
    "des",
    "la",
    "le",
    "und",
    "für",
    "der",
    "die",
    "das",
    "von",
    "zu",
    "im",
    "bei",
    "a",
    "an",
}
# Words of sentences, not titles: pronouns, common verbs, mail chatter.
_SENTENCE_WORDS = {
    "i",
    "we",
    "you",
    "he",
    "she",
    "they",
    "me",
    "my",
    "our",
    "your",
    "is",
    "are",
    "am",
    "was",
    "were",
    "will",
    "would",
    "can",
    "could",
    "please",
    "call",
    "let",
    "know",
    "have",
    "has",
    "had",
    "be",
    "sent",
    "send",
    "thanks",
    "thank",
    "regards",
    "see",
    "get",
    "look",
    "looking",
    "forward",
    "hope",
    "iphone",
    "android",
    "mobile",
    "ich",
    "wir",
    "sie",
    "ist",
    "sind",
    "bitte",
    "gesendet",
    "mein",
    "meinem",
    "я",
    "мы",
    "вы",
    "он",
    "она",
    "это",
    "пожалуйста",
    "отправлено",
    "звоните",
    "пишите",
    "буду",
    "есть",
}

# -- companies -------------------------------------------------------------------------------------
_LEGAL_END = re.compile(
    r"(?<![\w.])(ltd\.?|limited|llc|l\.l\.c\.|inc\.?|incorporated|corp\.?|corporation|plc|llp|gmbh|mbh|ag|kg|"
    r"ug|ohg|gbr|e\.\s?k\.|se|s\.a\.|sa|s\.a\.s\.|sas|sarl|s\.r\.l\.|srl|b\.v\.|bv|n\.v\.|nv|oy|ab|a/s|aps|"
    r"pty\.? ltd\.?|co\.,? ltd\.?|ug \(haftungsbeschränkt\))$",
    re.IGNORECASE,
)
_LEGAL_START = re.compile(r"^(ооо|оао|зао|пао|ао|нко|ано|ип|фгуп|гк)\s", re.IGNORECASE)
_ZH_COMPANY = re.compile(r"(股份有限公司|有限责任公司|有限公司|集团|公司)$")
_REGISTRY = re.compile(
    r"\b(registered|register|registry|amtsgericht|registergericht|handelsregister|hrb|hra|sitz|"
    r"geschäftsführer|ust|vat|steuer|tax|инн|огрн|кпп|реквизиты|company no|reg)\b|注册|税号",
    re.IGNORECASE,
)

# -- phones ----------------------------------------------------------------------------------------
_PHONE_LABEL = re.compile(
    r"^(?P<label>(tel(efon|ephone)?|phone|ph|mob(ile|il)?|cell(phone)?|handy|fon|direct|office|work|"
    r"тел(ефон)?|моб(ильный)?|сот(овый)?|раб(очий)?)\.?(\s+(phone|number|nr|no|тел))?\.?\s*"
    r"(\([^)]{1,15}\))?\s*[:：.]?|[tmpдт]\s*[:：.]|电话|手机|座机|移动电话|手機|電話)\s*[:：]?\s*",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\+?\(?\d[\d ().\-/]{5,24}\d")
_NANP = re.compile(r"\(\d{3}\)\s?\d{3}[-.\s]\d{4}")
_DATE_LIKE = re.compile(r"\d{1,4}([./-])\d{1,2}\1\d{1,4}")
_NOT_PHONE = re.compile(
    r"\b(iban|bic|swift|konto|kontonummer|blz|account|acct|a/c|order|invoice|rechnung|bestell\w*|auftrag|"
    r"ust|vat|tax|steuer\w*|hrb|hra|amtsgericht|zip|plz|postfach|fax|telefax|fx|f|заказ\w*|сч[её]т\w*|"
    r"р/с|к/с|инн|огрн|кпп|бик|окпо|факс|eur|usd|rub|руб\w*)\b|订单|账号|帐号|税号|开户|传真|[€$₽¥£]",
    re.IGNORECASE,
)
_TRAILER = re.compile(
    r"^(\((mobile|mobil|cell|office|work|direct|моб\.?|раб\.?|手机)\)|"
    r"(ext\.?|x|доб\.?|durchwahl|分机)\s*\d{1,6})?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SignatureFacts:
    """What a signature states: phone numbers as written, a job title and a company name ('' if none)."""

    phones: tuple[str, ...] = ()
    job_title: str = ""
    company: str = ""


def _clean(line: str) -> str:
    line = line.replace("\\", "").replace("\u00a0", " ").strip()
    return " ".join(_MARKUP.sub("", line).split())


def own_text(text: str) -> list[str]:
    """The lines the writer wrote: the text above any quoted or forwarded mail."""
    out = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if _QUOTE_START.match(line.strip()):
            break
        out.append(line.rstrip())
    return out


def signature_block(text: str) -> tuple[list[str], str]:
    """The lines of the signature block and a name written on the closing line; ([], '') when none is found.

    The block starts after the last "-- " line, else after the last closing ("Best regards", "С уважением",
    "Mit freundlichen Grüßen", "此致" …) that stands on a line of its own.
    """
    lines = own_text(text)
    start, closing_name = -1, ""
    for i in range(len(lines) - 1, -1, -1):
        if lines[i] in ("-- ", "--"):
            start = i
            break
    if start < 0:
        for i in range(len(lines) - 1, -1, -1):
            m = _CLOSING.match(_clean(lines[i]))
            if m and (not m.group("rest") or _looks_like_name(m.group("rest"))):
                start, closing_name = i, m.group("rest")
                break
    if start < 0:
        return [], ""
    block: list[str] = []
    blanks = 0
    for raw in lines[start + 1 :]:
        line = _clean(raw)
        if not line:
            blanks += 1
            if block and blanks >= 2:
                break
            continue
        blanks = 0
        if len(line) > MAX_LINE or _DISCLAIMER.search(line) or len(block) >= MAX_BLOCK_LINES:
            break
        block.append(line)
    while block and _CLOSING.fullmatch(block[0]) and not _CLOSING.match(block[0]).group("rest"):
        block.pop(0)  # 此致 / 敬礼 on two lines
    return block, closing_name


# -- names -----------------------------------------------------------------------------------------
_HONORIFICS = {
    "dr",
    "prof",
    "mr",
    "mrs",
    "ms",
    "herr",
    "frau",
    "dipl",
    "ing",
    "phd",
    "mba",
    "msc",
    "bsc",
    "jr",
    "sr",
    "mag",
    "med",
}


def _looks_like_name(text: str) -> bool:
    """Whether *text* could be a name written after a closing ("Best regards, Anna")."""
    words = text.split()
    if not 1 <= len(words) <= 4 or len(text) > 40 or re.search(r"[\d@/:]", text):
        return False
    return all(w[:1].isupper() or re.match(r"[\u4e00-\u9fff]", w) for w in words)


def _tokens(text: str) -> list[str]:
    return [t for t in re.findall(r"[^\W\d_]+", text.casefold()) if t not in _HONORIFICS]


def is_name_line(line: str, name: str) -> bool:
    """Whether *line* is the person's name (all of it, or a part of it, in any order and case)."""
    if not name or re.search(r"\d|@", line):
        return False
    got, want = _tokens(line), _tokens(name)
    if not got or not want or len(got) > len(want) + 1:
        return False
    return set(got) <= set(want) or set(want) <= set(got)


def _parts(line: str) -> list[str]:
    return [p.strip(" ,;") for p in _SEPARATORS.split(line) if p.strip(" ,;")]


def _script(text: str) -> str:
    if re.search(r"[\u4e00-\u9fff]", text):
        return "zh"
    if re.search(r"[а-яё]", text, re.IGNORECASE):
        return "ru"
    return "latin"


def job_title(line: str) -> str:
    """*line* as a job title when it has the conservative shape of one, else ''."""
    line = line.strip(" ,;")
    words = line.split()
    if not 2 <= len(line) <= 60 or not 1 <= len(words) <= 6:
        return ""
    if re.search(r"[\d@:：.!?]$|\d|@|:|：|https?:|www\.", line) or is_company(line):
        return ""
    folded = [w.strip("(),").casefold() for w in words]
    if any(w in _SENTENCE_WORDS for w in folded):
        return ""
    script = _script(line)
    if script == "zh":
        ok = any(t in line for t in _ZH_TITLES) and len(line) <= 20
        return line if ok else ""
    if script == "ru":
        if not words[0][:1].isupper():
            return ""
        ok = any(w.startswith(_RU_STEMS) or w in _TITLE_WORDS for w in folded)
        return line if ok else ""
    for word, low in zip(words, folded, strict=True):
        if low in _SMALL_WORDS:
            continue
        if not (word[:1].isupper() or word.isupper()):
            return ""
    parts = [p for w in folded for p in re.split(r"[/-]", w) if p]
    ok = any(p in _TITLE_WORDS for p in parts) or any(p.endswith(_TITLE_STEMS) for p in parts)
    return line if ok else ""


def is_company(part: str) -> bool:
    """Whether *part* names a company by its legal form (Ltd, GmbH, ООО, 有限公司 …)."""
    part = part.strip(" ,;")
    if not 3 <= len(part) <= 80 or len(part.split()) > 8:
        return False
    if _URLISH.search(part) or re.search(r"\d{3}|[:：]", part) or _REGISTRY.search(part):
        return False
    if _ZH_COMPANY.search(part):
        return len(part) > 3 and len(part) <= 40
    if _LEGAL_START.match(part):
        return len(part.split()) >= 2
    m = _LEGAL_END.search(part)
    return bool(m) and bool(re.search(r"[^\W\d_]{2}", part[: m.start()]))


def _company_key(name: str) -> str:
    words = [
        w
        for w in re.findall(r"[^\W_]+", name.casefold())
        if not _LEGAL_END.fullmatch(w) and not _LEGAL_START.match(w + " ")
    ]
    return " ".join(words)


# -- phones ----------------------------------------------------------------------------------------


def phone(part: str) -> str:
    """The phone number *part* states (with its label or as an international number), else ''."""
    if _NOT_PHONE.search(part):
        return ""
    label = _PHONE_LABEL.match(part)
    rest = part[label.end() :] if label else part
    m = _NUMBER.match(rest.strip())
    if m is None:
        return ""
    number = m.group(0).strip()
    if not _TRAILER.match(rest.strip()[m.end() :].strip()):
        return ""
    digits = sum(c.isdigit() for c in number)
    if not 8 <= digits <= 15 or number.count("(") != number.count(")") or number.count("(") > 1:
        return ""
    if number.count("/") > 1 or _DATE_LIKE.fullmatch(number.replace(" ", "")):
        return ""
    if re.search(r"[ ().\-/]{3,}", number.replace(" / ", "/")):
        return ""
    if label is None and not (number.startswith("+") or _NANP.fullmatch(number)):
        return ""
    return " ".join(number.split())


# -- all together ----------------------------------------------------------------------------------


def extract(text: str, name: str = "", known_companies: Sequence[str] = ()) -> SignatureFacts:
    """Facts from the signature block of *text* written by *name*, recognising *known_companies* by name."""
    block, closing_name = signature_block(text)
    if not block:
        return SignatureFacts()
    phones: list[str] = []
    title = company = ""
    known = {_company_key(c): c for c in known_companies if _company_key(c)}
    if _signed_by_someone_else(block, closing_name, name):
        return SignatureFacts()
    name_at = -1 if is_name_line(closing_name, name) else None
    for i, line in enumerate(block):
        parts = _parts(line)
        if i < 3 and parts and is_name_line(parts[0], name) and (name_at is None or i == name_at + 1):
            name_at = i  # the name may stand twice: "Julia" then "Julia Wagner | Projektleiterin"
            parts = parts[1:]
            if parts:
                title = job_title(parts[0])  # "Anna Berg | Head of Sales"
        elif name_at is not None and i == name_at + 1 and not title and parts:
            head = parts[0]
            if ", " in head and is_company(head.rsplit(", ", 1)[1]):
                head = head.rsplit(", ", 1)[0]  # "Head of Sales, Acme Ltd"
            title = job_title(head)
        for part in parts:
            pieces = [part, *(part.split(", ") if ", " in part else [])]
            for piece in pieces:
                if company:
                    break
                if known and _company_key(piece) in known:
                    company = known[_company_key(piece)]
                elif is_company(piece):
                    company = piece.strip(" ,;")
            for piece in pieces:
                number = phone(piece)
                if number and all(_digits(number) != _digits(p) for p in phones):
                    phones.append(number)
    return SignatureFacts(tuple(phones), title, company)


def _signed_by_someone_else(block: list[str], closing_name: str, name: str) -> bool:
    """Whether the block is signed with another person's name (an assistant, a colleague)."""
    if not name:
        return False
    if closing_name:
        return not is_name_line(closing_name, name)
    first = _parts(block[0])[0] if _parts(block[0]) else ""
    words = first.split()
    if not 2 <= len(words) <= 4 or _script(first) == "zh" or is_name_line(first, name):
        return False
    person_like = all(re.fullmatch(r"[^\W\d_][^\W\d_'.-]*\.?", w) and w[:1].isupper() for w in words)
    return person_like and not job_title(first) and not is_company(first)


def _digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())
