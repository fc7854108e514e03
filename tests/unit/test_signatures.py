"""Signature extraction on real-looking mail in English, Russian, German and Chinese.

Precision over recall: each case states everything that may be found, so a number, title or company
the extractor invents fails the test as surely as one it misses.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.crm.signatures import SignatureFacts, extract, job_title, phone, signature_block

CASES = [
    pytest.param(
        """Hi Tom,

please find the revised offer attached. The price of £12,450.00 is valid until 31/12/2026.

Best regards,
Anna Berg
Head of Sales
Acme Widgets Ltd
T: +44 20 7946 0958
M: +44 7700 900123
www.acme-widgets.co.uk
""",
        "Anna Berg",
        SignatureFacts(("+44 20 7946 0958", "+44 7700 900123"), "Head of Sales", "Acme Widgets Ltd"),
        id="en-closing",
    ),
    pytest.param(
        """Thanks, see you Tuesday.

--
John Doe | Senior Software Engineer | Initech Inc.
(555) 123-4567
""",
        "John Doe",
        SignatureFacts(("(555) 123-4567",), "Senior Software Engineer", "Initech Inc."),
        id="en-dashes",
    ),
    pytest.param(
        """Works for me.

Cheers,
Tom
CTO & Co-Founder
Widget Labs
Mobile: (415) 555-0132
""",
        "Tom Baker",
        SignatureFacts(("(415) 555-0132",), "CTO & Co-Founder", ""),
        id="en-first-name",
    ),
    pytest.param(
        """Dear Ms Lee,

I am writing on behalf of Mr Fox regarding invoice 2026-00417.

Kind regards,
Mark Stone
Executive Assistant to the CEO
Fox Holdings Ltd
Direct: +1 212 555 0199
""",
        "Peter Fox",
        SignatureFacts(),
        id="en-signed-by-assistant",
    ),
    pytest.param(
        """Добрый день!

Счет на оплату во вложении. Номер заказа 4451239, сумма 125 000 руб.

С уважением,
Иван Петров
Менеджер по продажам
ООО «Ромашка»
Тел.: +7 (495) 123-45-67
Моб.: 8 916 123-45-67
""",
        "Петров Иван",
        SignatureFacts(("+7 (495) 123-45-67", "8 916 123-45-67"), "Менеджер по продажам", "ООО «Ромашка»"),
        id="ru-closing",
    ),
    pytest.param(
        """Коллеги, реквизиты для договора ниже.

С наилучшими пожеланиями,
Ольга Смирнова
Главный бухгалтер
АО «Северсталь-Сервис»
тел. 8 (8202) 53-09-00 доб. 1234
ИНН 3528000597 КПП 352801001
р/с 40702810400000001234
""",
        "Ольга Смирнова",
        SignatureFacts(("8 (8202) 53-09-00",), "Главный бухгалтер", "АО «Северсталь-Сервис»"),
        id="ru-requisites",
    ),
    pytest.param(
        """Sehr geehrter Herr Müller,

anbei die Rechnung Nr. 2024-0815 vom 15.03.2024 über 1.299,00 EUR.

Mit freundlichen Grüßen

Dr. Klaus Schmidt
Vertriebsleiter
Musterfirma GmbH
Musterstraße 12, 10115 Berlin
Tel.: +49 30 12345678
Fax: +49 30 12345679
IBAN: DE89 3704 0044 0532 0130 00
Amtsgericht Berlin HRB 123456
USt-IdNr.: DE123456789
""",
        "Klaus Schmidt",
        SignatureFacts(("+49 30 12345678",), "Vertriebsleiter", "Musterfirma GmbH"),
        id="de-footer",
    ),
    pytest.param(
        """Hallo Tom,

passt, bis Donnerstag.

Viele Grüße
Julia

Julia Wagner | Projektleiterin
Wagner & Partner Beratung GmbH
Mobil 0171 / 123 45 67
""",
        "Julia Wagner",
        SignatureFacts(("0171 / 123 45 67",), "Projektleiterin", "Wagner & Partner Beratung GmbH"),
        id="de-name-twice",
    ),
    pytest.param(
        """王经理您好：

附件是合同，请查收。

此致
敬礼

张伟
销售经理
北京星辰科技有限公司
电话：+86 10 8888 6666
手机：138 0013 8000
传真：+86 10 8888 6667
""",
        "张伟",
        SignatureFacts(("+86 10 8888 6666", "138 0013 8000"), "销售经理", "北京星辰科技有限公司"),
        id="zh-zhici",
    ),
    pytest.param(
        """您好，

订单号 2026112700123 已发货，金额 ¥3,280.00。

祝好！
李娜
市场部 总监
上海明远贸易有限公司
地址：上海市浦东新区世纪大道100号
邮编：200120
""",
        "李娜",
        SignatureFacts((), "市场部 总监", "上海明远贸易有限公司"),
        id="zh-order",
    ),
    pytest.param(
        """Sounds good, let's do that.

On Mon, 23 Nov 2026 at 10:00, Bob Stone <bob@stone.example> wrote:
> Best regards,
> Bob Stone
> CEO
> Stone Ltd
> +1 212 555 0199
""",
        "Amy Hart",
        SignatureFacts(),
        id="en-quoted-signature-is-not-hers",
    ),
    pytest.param(
        """Call me at +1 415 555 0132 tomorrow, or on my mobile +44 7700 900123.
Job title: Head of Sales at Acme Ltd.
""",
        "Anna Berg",
        SignatureFacts(),
        id="no-signature-block",
    ),
    pytest.param(
        """Your order has shipped.

Thanks,
Order #100234567 | Total: €1.299,00 | Delivery 2026-12-15
IBAN DE44 5001 0517 5407 3249 31, BIC DEUTDEFF
Ref 2026/11/27-0042
Tracking 1Z999AA10123456784
Call 0800 123 4567
""",
        "Shop",
        SignatureFacts(),
        id="numbers-that-are-not-phones",
    ),
    pytest.param(
        "-- \n"
        + """Support Team
Ticket 2026-11-27 / 000123456
Price: 1 234 567,00 EUR + 19% VAT
Opening hours 9:00-17:00, 24.12.2026 closed
""",
        "Support Team",
        SignatureFacts(),
        id="dates-prices-tickets",
    ),
    pytest.param(
        """ok

Sent from my iPhone
""",
        "Anna Berg",
        SignatureFacts(),
        id="mobile-footer",
    ),
    pytest.param(
        """Thanks for the call yesterday, I look forward to working with you.

Best
Anna Berg
I will be out of office until 12.01.2027.
Please call my colleague on +44 20 7946 0000 if urgent.
""",
        "Anna Berg",
        SignatureFacts(),
        id="sentences-in-the-block",
    ),
]


@pytest.mark.parametrize(("body", "name", "expected"), CASES)
def test_signature(body: str, name: str, expected: SignatureFacts) -> None:
    assert extract(body, name) == expected


def test_the_block_is_what_follows_the_last_closing_above_the_quote() -> None:
    body = "Thanks!\n\nMore text.\n\nRegards, Ann\nAnn Lee\n\n\n\nunrelated\n> quoted\n"
    assert signature_block(body) == (["Ann Lee"], "Ann")


@pytest.mark.parametrize(
    "line",
    [
        "Phone: 15.03.2024",
        "Tel.: 2024-03-15",
        "+1 2",
        "Order: +49 30 1234567",
        "T: 12345",
        "Fax +49 30 1234567",
        "IBAN +49 30 1234567",
        "+49 30 1234567 8 9 10 11 12 13",
        "DE89 3704 0044 0532 0130 00",
        "4711-0815-0042",
        "€ 1 234 567",
        "PLZ 10115",
        "555-123-4567",
        "Tel: +49 30 1234567 (call after 5pm)",
    ],
)
def test_not_phones(line: str) -> None:
    assert phone(line) == ""


@pytest.mark.parametrize(
    "line",
    [
        "Please call me tomorrow",
        "Sent from my iPhone",
        "sales manager",
        "www.acme.com",
        "Head of Sales 2026",
        "Acme Ltd",
        "Berlin",
        "Looking forward to hearing from you",
        "I am the Manager",
        "Managing the account.",
        "Мы будем рады помочь",
        "менеджер по продажам",
        "谢谢您的支持和帮助我们会尽快回复",
    ],
)
def test_not_job_titles(line: str) -> None:
    assert job_title(line) == ""


_LINES = st.sampled_from(
    [
        "Best regards,",
        "-- ",
        "С уважением,",
        "Mit freundlichen Grüßen",
        "此致",
        "Ann Lee",
        "Anna",
        "Head of Sales",
        "Acme Ltd",
        "ООО «Ромашка»",
        "Order 4711-0815",
        "Total: €1.299,00",
        "15.03.2024",
        "IBAN DE89 3704 0044 0532",
        "Tel.: +49 30 12345678",
        "Fax: +49 30 1",
        "+7 (495) 123-45-67",
        "> quoted",
        "",
        "Thanks!",
        "www.acme.com",
        "Please call me on 0171 1234567",
        "ИНН 3528000597",
        "电话：138 0013 8000",
        "2026-11-27",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(_LINES, st.text(alphabet=st.characters(blacklist_characters="\\\r"), max_size=40)),
        max_size=14,
    )
)
def test_facts_are_only_ever_quoted_from_the_text(lines: list[str]) -> None:
    body = "\n".join(lines)
    flat = " ".join(body.split())
    facts = extract(body, "Ann Lee")
    for value in (*facts.phones, facts.job_title, facts.company):
        assert value in flat
    for number in facts.phones:
        assert 8 <= sum(c.isdigit() for c in number) <= 15
