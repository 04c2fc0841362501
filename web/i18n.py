"""Two languages through gettext (Babel): English (the msgids) and Simplified Chinese.

Catalogues are `web/locale/<locale>/LC_MESSAGES/messages.po`, compiled in memory when the
app starts (no build step). `make messages` extracts the strings of templates and code
into `web/locale/messages.pot` and updates the catalogues; a test fails when the Chinese
catalogue misses or leaves empty a string.
"""

import gettext
from datetime import datetime, tzinfo
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency

from models.enums import UI_LOCALES

LOCALE_DIR = Path(__file__).parent / "locale"


def N_(message: str) -> str:
    """Marks a string in code for translation; the template translates it (`_(message)`)."""
    return message


LOCALES = UI_LOCALES
DEFAULT = "en"


@cache
def translations(locale: str) -> gettext.NullTranslations:
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT or not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as file:
        catalog = read_po(file, locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def best_match(accept_language: str | None) -> str:
    """The catalogue for an Accept-Language header (the customer page): zh → Chinese."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh_Hans_CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT


class Formatter:
    """Dates and money for one locale and time zone."""

    def __init__(self, locale: str, tz: tzinfo):
        self.locale = Locale.parse(locale if locale != "zh_Hans_CN" else "zh_Hans_CN")
        self.tz = tz

    def when(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        return format_datetime(moment, "medium", tzinfo=self.tz, locale=self.locale)

    def money(self, amount: Decimal | None, currency: str) -> str:
        if amount is None:
            return ""
        return format_currency(amount, currency, locale=self.locale)
