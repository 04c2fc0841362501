"""The UI's two languages (web/i18n.py): every string of web/ has a Chinese translation."""

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from claimflow.settings import REPO_ROOT
from models.actions import ACTIONS
from models.enums import ClaimKind, ClaimState, DeadlineKind, EscalationLevel, Fault, Remedy, UserRole
from web.i18n import LOCALE_DIR, Formatter, best_match, translations
from web.vocabulary import VOCABULARY

WEB = REPO_ROOT / "web"
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def extracted() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(WEB, METHODS, keywords=KEYWORDS):
        found.update([message] if isinstance(message, str) else [m for m in message if m])
    return found


def test_the_chinese_catalogue_translates_every_string_of_the_ui():
    with (LOCALE_DIR / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po").open("rb") as file:
        catalogue = read_po(file)
    def done(m) -> bool:  # every form translated (a plural entry has a tuple of them)
        return bool(m.id) and not m.fuzzy and all([m.string] if isinstance(m.string, str) else m.string)

    translated = {i for m in catalogue if done(m) for i in ([m.id] if isinstance(m.id, str) else m.id)}
    missing = sorted(extracted() - translated)
    assert missing == [], f"{len(missing)} strings without a Chinese translation (run `make messages`): {missing[:20]}"


def test_every_domain_word_the_ui_shows_is_in_the_vocabulary():
    words = [e.value for enum in (ClaimState, Remedy, UserRole, DeadlineKind, ClaimKind, Fault, EscalationLevel) for e in enum]
    assert sorted(set(words + list(ACTIONS)) - VOCABULARY) == []


def test_a_string_is_shown_in_the_users_language():
    assert translations("zh_Hans_CN").gettext("Sign in") != "Sign in"
    assert translations("en").gettext("Sign in") == "Sign in"


def test_the_customer_page_language_follows_accept_language():
    assert best_match("zh-CN,zh;q=0.9,en;q=0.5") == "zh_Hans_CN"
    assert best_match("en-GB,en;q=0.8") == "en"
    assert best_match(None) == "en"


def test_dates_and_money_are_formatted_for_the_locale():
    from datetime import datetime, timezone
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    moment = datetime(2026, 3, 11, 4, 30, tzinfo=timezone.utc)
    zh = Formatter("zh_Hans_CN", ZoneInfo("Asia/Shanghai"))
    en = Formatter("en", ZoneInfo("Asia/Shanghai"))
    assert "2026年3月11日" in zh.when(moment) and "12:30" in zh.when(moment)
    assert en.when(moment).startswith("Mar 11, 2026") and "12:30" in en.when(moment)
    assert zh.money(Decimal("1234.5"), "CNY") == "¥1,234.50"
    assert en.money(Decimal("1234.5"), "CNY") == "CN¥1,234.50"
