"""Validated input for CRM records: the authority screens and the CLI map their fields to."""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from store.errors import Invalid

PHONE_CHARS = re.compile(r"^\+?[0-9 ().\-/]+$")


def one_line(value: str, what: str) -> str:
    """*value* with inner runs of white space collapsed; refuses line breaks."""
    if "\n" in value or "\r" in value:
        raise ValueError(f"the {what} must be one line")
    return " ".join(value.split())


def phone_digits(number: str) -> str:
    """The digits of a phone number, with a leading + kept: what makes two spellings the same number."""
    digits = "".join(c for c in number if c.isdigit())
    return "+" + digits if number.strip().startswith("+") else digits


def clean_address(value: str) -> str:
    """An e-mail address, lower-cased, checked for a plausible form."""
    from email_validator import EmailNotValidError, validate_email

    value = value.strip().lower()
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"'{value}' is not an e-mail address ({exc})") from None
    return value


class Draft(BaseModel):
    """Base of the drafts: frozen, stripped, and `parse` reports every field's problem as Invalid."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True, extra="forbid")

    @classmethod
    def parse(cls, **values: object) -> Self:
        """Validate *values*, raising Invalid with one message per field."""
        try:
            return cls(**values)
        except ValidationError as exc:
            errors: dict[str, str] = {}
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else ""
                errors.setdefault(field, err["msg"].removeprefix("Value error, "))
            raise Invalid(errors) from None


class ContactDraft(Draft):
    """A contact as a user enters it; *company* is a company's name or one of its domains ('' for none)."""

    name: str = Field(min_length=1, max_length=256)
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    job_title: str = Field(default="", max_length=128)
    company: str = Field(default="", max_length=256)

    @field_validator("name", "job_title", "company")
    @classmethod
    def _line(cls, v: str) -> str:
        return one_line(v, "value")

    @field_validator("emails")
    @classmethod
    def _emails(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        out: list[str] = []
        for item in v:
            address = clean_address(item)
            if address not in out:
                out.append(address)
        return tuple(out)

    @field_validator("phones")
    @classmethod
    def _phones(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        out: list[str] = []
        for item in v:
            number = " ".join(item.split())
            digits = phone_digits(number).lstrip("+")
            if not PHONE_CHARS.match(number) or not 5 <= len(digits) <= 15:
                raise ValueError(f"'{item}' is not a phone number (digits, spaces, + ( ) - . / only)")
            if phone_digits(number) not in {phone_digits(p) for p in out}:
                out.append(number)
        return tuple(out)


class CompanyDraft(Draft):
    """A company as a user enters it: a name and the web/mail domains that are its own."""

    name: str = Field(min_length=1, max_length=256)
    domains: tuple[str, ...] = ()

    @field_validator("name")
    @classmethod
    def _line(cls, v: str) -> str:
        return one_line(v, "name")

    @field_validator("domains")
    @classmethod
    def _domains(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from store.crm.domains import is_free_mail
        from store.providers import normalize_domain

        out: list[str] = []
        for item in v:
            value = item.strip().lower()
            value = re.sub(r"^(https?://)?(www\.)?", "", value).split("/")[0]
            try:
                domain = normalize_domain(value)
            except Invalid as exc:
                raise ValueError(exc.errors["domain"]) from None
            if is_free_mail(domain):
                raise ValueError(f"{domain} is a free-mail domain; it never makes a company")
            if domain not in out:
                out.append(domain)
        return tuple(out)
