"""Domains of addresses, and the free-mail domains that never make a company."""

from __future__ import annotations

# Mail services where anyone can get an address: a domain here says nothing about a company.
FREE_MAIL_DOMAINS = frozenset(
    """
gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.de yahoo.fr yahoo.es yahoo.it yahoo.co.jp ymail.com
rocketmail.com outlook.com outlook.de hotmail.com hotmail.co.uk hotmail.de hotmail.fr hotmail.it live.com
live.de live.co.uk msn.com icloud.com me.com mac.com aol.com aim.com gmx.de gmx.net gmx.com gmx.at gmx.ch
web.de t-online.de freenet.de arcor.de posteo.de mailbox.org mail.ru inbox.ru list.ru bk.ru internet.ru
yandex.ru yandex.com yandex.by yandex.kz yandex.ua ya.ru rambler.ru ro.ru ukr.net i.ua meta.ua proton.me
protonmail.com protonmail.ch pm.me tutanota.com tutanota.de tuta.io tuta.com zoho.com zohomail.com mail.com
email.com qq.com vip.qq.com foxmail.com 163.com 126.com yeah.net vip.163.com sina.com sina.cn sohu.com
aliyun.com 139.com 189.cn 21cn.com naver.com daum.net hanmail.net seznam.cz wp.pl o2.pl interia.pl onet.pl
libero.it virgilio.it tiscali.it orange.fr wanadoo.fr free.fr laposte.net sfr.fr btinternet.com
sky.com comcast.net verizon.net att.net sbcglobal.net cox.net hey.com fastmail.com fastmail.fm
rediffmail.com bluewin.ch abv.bg
""".split()
)


def domain_of(address: str) -> str:
    """The lower-case domain of an address ('' when it has none)."""
    return address.strip().lower().rpartition("@")[2] if "@" in address else ""


def is_free_mail(domain: str) -> bool:
    """Whether *domain* belongs to a free-mail service."""
    return domain.strip().lower().rstrip(".") in FREE_MAIL_DOMAINS
