"""Languages: gettext catalogs read with Babel, and the locale's formats for money (yuan from
integer fen), numbers and dates. Used by the portal and by the oversight report alike.

Messages are written in English in templates and code; `zhengxin/locale/zh_CN/LC_MESSAGES/*.po`
holds the Chinese. Every .po file there is merged into one catalog, so each part (a portal
role, the oversight report) keeps its own file. Catalogs are compiled in memory at first use
(no .mo files to build).
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations
from jinja2 import BaseLoader, Environment, select_autoescape

LOCALE_DIR = Path(__file__).parent.parent / "locale"
LOCALES = ("zh_CN", "en")  # the first is the default
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}


def merged_catalog(locale: str) -> Catalog:
    catalog = Catalog(locale=locale)
    for po in sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as f:
            for message in read_po(f, locale=locale):
                if message.id and message.string:
                    catalog[message.id] = message
    return catalog


@cache
def translations(locale: str) -> NullTranslations:
    if locale == "en":
        return NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, merged_catalog(locale))
    buffer.seek(0)
    return Translations(buffer)


def gettext_for(locale: str):
    """`_` for messages made in Python (flash messages, chart titles)."""
    return translations(locale).gettext


@cache
def babel_locale(locale: str) -> Locale:
    """Parsed once: Babel resolves "zh_CN" through its likely-subtags data on every call given
    a string, which made each formatted number in Chinese ten times slower than in English."""
    return Locale.parse(locale)


def html_lang(locale: str) -> str:
    """The `lang` attribute of a page: zh-CN or en."""
    return babel_locale(locale).language + ("-CN" if locale == "zh_CN" else "")


def yuan(fen: int | None, locale: str) -> str:
    """Integer fen shown as yuan with two decimals, in the locale's currency format."""
    if fen is None:
        return "—"
    return format_currency(Decimal(fen) / 100, "CNY", locale=babel_locale(locale), format_type="standard")


def local_date(value: date | str | None, locale: str) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, format="medium", locale=babel_locale(locale))


def utc_time(value: datetime | str | None, locale: str) -> str:
    """An instant, always in UTC and labelled so."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return format_datetime(value.astimezone(UTC), format="medium", tzinfo=UTC, locale=babel_locale(locale)) + " UTC"


def number(value: float | int | None, locale: str) -> str:
    return "—" if value is None else format_decimal(value, locale=babel_locale(locale))


def percent(value: float | None, locale: str) -> str:
    return "—" if value is None else format_decimal(value * 100, format="#,##0.0", locale=babel_locale(locale)) + "%"


def jinja_environment(loader: BaseLoader, locale: str) -> Environment:
    """Templates for one locale: gettext installed, and the locale's formats as filters."""
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)
    env.filters["yuan"] = lambda fen: yuan(fen, locale)
    env.filters["date"] = lambda d: local_date(d, locale)
    env.filters["utc"] = lambda t: utc_time(t, locale)
    env.filters["number"] = lambda v: number(v, locale)
    env.filters["percent"] = lambda v: percent(v, locale)
    env.globals["locale"] = locale
    env.globals["html_lang"] = html_lang(locale)
    env.globals["languages"] = LANGUAGE_NAMES
    return env
