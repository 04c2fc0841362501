"""Hypothesis strategies for the fuzz tests (tests/test_fuzz_*.py), and their profiles.

    HYPOTHESIS_PROFILE=ci    (default) few, derandomized examples: every run of the suite
    HYPOTHESIS_PROFILE=long  many random examples; failures are kept in
                             .pytest_cache/hypothesis and replayed first next time

Values are mostly valid with hostile ones mixed in (huge strings, control characters,
bidi overrides, odd unicode, extreme dates and numbers, wrong types, missing and extra
keys), so that both the refusals and the paths behind an acceptance get exercised.
"""

import os
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from pydantic import ValidationError

from claimflow.policy_files import load_policy
from claimflow.settings import REPO_ROOT
from models import limits
from models.enums import DeadlineKind, Fault
from models.policy import Policy

# --- profiles ------------------------------------------------------------------------

settings.register_profile(
    "ci",
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long",
    max_examples=2_000,
    deadline=None,
    database=DirectoryBasedExampleDatabase(str(REPO_ROOT / ".pytest_cache" / "hypothesis")),
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def examples(ci: int, long: int) -> int:
    """How many examples a test runs under the current profile."""
    return long if PROFILE == "long" else ci


# --- the seed policies -------------------------------------------------------------------

POLICY_DIR = REPO_ROOT / "policies"
POLICY_NAMES = sorted(p.stem for p in POLICY_DIR.glob("*.toml"))
POLICIES: dict[str, Policy] = {name: load_policy(POLICY_DIR, name) for name in POLICY_NAMES}
POLICY_TEXTS: dict[str, str] = {name: (POLICY_DIR / f"{name}.toml").read_text(encoding="utf-8") for name in POLICY_NAMES}

# --- what a clear refusal looks like --------------------------------------------------------


def one_clear_line(message: str) -> None:
    """A refusal message a person can read: not empty, one line, no traceback."""
    assert message.strip(), "empty message"
    assert "\n" not in message and "\r" not in message, f"message spans lines: {message!r}"
    assert "Traceback" not in message, f"message carries a traceback: {message!r}"


def one_clear_line_per_problem(error: ValidationError) -> None:
    """What the CLI prints of a pydantic error (`field: reason` per problem) is clear."""
    problems = error.errors()
    assert problems, "a ValidationError without problems"
    for problem in problems:
        one_clear_line(problem["msg"])


# --- hostile values ------------------------------------------------------------------------

CONTROL = "".join(map(chr, range(0x20))) + "\x7f" + "".join(map(chr, range(0x80, 0xA0)))
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
ODD = "\u200b\u200c\u200d\u2028\u2029\ufeff\u00a0\u3000\u0301\ufffd\U0001f600名長文ß"
LENGTHS = sorted(
    {1, limits.ID_MAX, limits.ID_MAX + 1, limits.NAME_MAX, limits.NAME_MAX + 1, limits.TEXT_MAX,
     limits.TEXT_MAX + 1, limits.NOTE_MAX, limits.NOTE_MAX + 1, 100_000}
)  # fmt: skip

# printable text the models accept (control characters and bidi overrides are refused)
SAFE_CHARS = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters=BIDI)

hostile_text = st.one_of(
    st.text(max_size=40),  # any unicode (no surrogates)
    st.text(alphabet=st.sampled_from(CONTROL + BIDI + ODD + "ab -"), max_size=30),
    st.builds(lambda c, n: c * n, st.sampled_from(["x", "名", "\x1b", "\u202e", " ", "\U0001f600"]), st.sampled_from(LENGTHS)),
    st.sampled_from(["", " ", "\t", "\n", "\x1b[2J\x1b[H", "\u202eevil.exe", "a\x00b", "\ud800", "a\udcffb", "null"]),
)

hostile_number = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 2**31, 2**63, 10**20, -(10**20), 10**400]),
    st.floats(),  # nan, inf, -0.0, subnormals
    st.decimals(),  # NaN, sNaN, Infinity, any exponent
    st.sampled_from(["1e999999999", "-0", "0.001", "１２", " 5 ", "1_000", "0x10", "NaN"]),
)

hostile_date = st.one_of(
    st.dates(),
    st.sampled_from([date.min, date.max, limits.EARLIEST_DATE - timedelta(days=1), "2024-02-30", "yesterday", "", 0, 10**12]),
)

hostile_scalar = st.one_of(st.none(), st.booleans(), hostile_number, hostile_text, hostile_date)

hostile_value: st.SearchStrategy[Any] = st.recursive(
    hostile_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)


def valid_or(valid: st.SearchStrategy, hostile: st.SearchStrategy = hostile_value) -> st.SearchStrategy:
    """Mostly `valid` (7 times in 8), sometimes `hostile`: a record of several fields is
    then often entirely valid, and often has one bad field."""
    return st.one_of(*[valid] * 7, hostile)


@st.composite
def mutated(draw, valid_dict: st.SearchStrategy[dict]) -> dict:
    """A dict from `valid_dict`, often left alone, else with keys dropped, set to hostile
    values, or extra keys added."""
    data = dict(draw(valid_dict))
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["drop", "replace", "extra"]))
        if op == "drop" and data:
            del data[draw(st.sampled_from(sorted(data)))]
        elif op == "replace" and data:
            data[draw(st.sampled_from(sorted(data)))] = draw(hostile_value)
        elif op == "extra":
            data[draw(st.sampled_from(["extra", "id", "__class__", "by ", "x" * 300]) | st.text(max_size=10))] = draw(
                hostile_value
            )
    return data


# --- bounded text the models accept ----------------------------------------------------------


def bounded_text(max_len: int, min_len: int = 1) -> st.SearchStrategy[str]:
    """Printable text within the bound, sometimes exactly at it (wide characters too)."""
    body = st.text(alphabet=SAFE_CHARS, min_size=min_len, max_size=min(max_len, 60)).filter(
        lambda s: len(s.strip()) >= min_len
    )
    return st.one_of(body, body, st.sampled_from(["名" * max_len, "x" * max_len, ("长" * (max_len - 1)) + "x"]))


names = bounded_text(limits.NAME_MAX)
texts = bounded_text(limits.TEXT_MAX)
notes = st.one_of(
    st.just(""),
    bounded_text(limits.NOTE_MAX),
    st.text(alphabet=st.sampled_from("ab \n\t名"), max_size=60),  # newlines and tabs are allowed in notes
)
idents = bounded_text(limits.ID_MAX)
slugs = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
money = st.decimals(min_value=Decimal("0.01"), max_value=limits.AMOUNT_MAX, places=2)
line_amounts = st.decimals(min_value=Decimal("0.01"), max_value=limits.LINE_AMOUNT_MAX, places=2)

# --- intakes ---------------------------------------------------------------------------------

valid_claim_numbers = st.from_regex(r"[A-Z0-9][A-Z0-9-]{2,39}", fullmatch=True)
claim_numbers = st.one_of(
    valid_claim_numbers,
    st.sampled_from(["CK-1001", " CK-1002 ", "CK-1003\n", "ck-1004", "-AB", "AB", "A" * 40, "A" * 41, "CK 1001", "ＣＫ-1001"]),
)


@st.composite
def corrupted(draw, data: dict, most: int = 2) -> dict:
    """`data` with up to `most` corruptions, each at a top-level or nested key: a hostile
    value, the key dropped, or an extra key."""
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for _ in range(draw(st.integers(0, most))):
        nested = [(k,) for k, v in data.items() if isinstance(v, dict)]
        target = data
        if nested and draw(st.booleans()):
            target = data[draw(st.sampled_from(nested))[0]]
        op = draw(st.sampled_from(["replace", "replace", "drop", "extra"]))
        if op == "extra" or not target:
            target[draw(st.sampled_from(["extra", "id", "__class__", "by ", "x" * 300]) | st.text(max_size=10))] = draw(
                hostile_value
            )
            continue
        key = draw(st.sampled_from(sorted(target)))
        if op == "drop":
            del target[key]
        else:
            target[key] = draw(hostile_date if key.endswith("_date") else hostile_value)
    return data


@st.composite
def intake_dicts(draw, policy: Policy, today: date, corruptions: int = 2) -> dict:
    """A claim intake as the CLI or the web UI would send it: plausible under `policy` on
    `today` (dates mostly in order, conditions mostly the policy's), then corrupted at
    up to `corruptions` places."""
    bought = today - timedelta(days=draw(st.integers(-30, 4_000)))
    received = bought + timedelta(days=draw(st.integers(-3, 60)))
    shipped = bought - timedelta(days=draw(st.integers(-3, 400)))
    known = [e.id for e in policy.exclusions]
    product = {"model": draw(names), "serial_number": draw(names)}
    if draw(st.booleans()):
        product["barcode"] = draw(st.none() | names)
    data = {
        "claim_number": draw(claim_numbers),
        "policy": policy.name,
        "kind": draw(st.sampled_from(["repair", "repair", "repair", "return"])),
        "customer": {"name": draw(names), "contact": draw(names)},
        "product": product,
        "proof_of_purchase": draw(st.booleans()),
        "fault_description": draw(texts),
        "opened_by": draw(names),
    }
    for key, day in [("purchase_date", bought), ("goods_received_date", received), ("factory_shipment_date", shipped)]:
        data[key] = draw(st.sampled_from([day, day, day, None]))  # None: not known (as if left out)
    optional = {
        "contract_warranty_months": st.sampled_from([12, 24, 6, None, limits.CONTRACT_MONTHS_MAX]),
        "conditions": st.one_of(
            st.lists(st.sampled_from(known), max_size=3) if known else st.just([]),
            st.lists(st.sampled_from(known) | idents, max_size=3) if known else st.lists(idents, max_size=2),
        ),
    }
    for key, strategy in optional.items():
        if draw(st.integers(0, 4)):  # mostly present
            data[key] = draw(strategy)
    return draw(corrupted(data, corruptions))


# --- action payloads -------------------------------------------------------------------------


def findings_fields(policy: Policy | None) -> dict[str, st.SearchStrategy]:
    """Inspection and on-site report fields; with a policy, only ids the policy knows."""
    if policy is None:
        exclusions = non_repairable = st.lists(idents, max_size=3)
        defects = st.none() | idents
        replace = st.booleans()
    else:

        def some(ids: list[str], most: int) -> st.SearchStrategy[list[str]]:
            return st.lists(st.sampled_from(ids), max_size=most, unique=True) if ids else st.just([])

        exclusions = some([e.id for e in policy.exclusions], 3)
        non_repairable = some([c.id for c in policy.non_repairable], 2)
        scope = [d.id for d in policy.warranty.scope]
        defects = st.none() | st.sampled_from(scope) if scope else st.none()
        replace = st.booleans() if policy.warranty.replacement_clause_ids else st.just(False)
    return {
        "fault": st.sampled_from([f.value for f in Fault]),
        "exclusions": exclusions,
        "unused_and_complete": st.booleans(),
        "defect": defects,
        "non_repairable": non_repairable,
        "replace": replace,
        "notes": notes,
    }


def field_values(policy: Policy | None = None, quote_total: Decimal | None = None) -> dict[str, st.SearchStrategy]:
    """A valid-looking value for every field of every action (tests check that none is
    missing, so a new field gets fuzzed too). With a policy, fee items and finding ids are
    the policy's; with `quote_total`, a payment often pays it exactly."""
    fee_items = st.sampled_from(policy.fee_items) if policy is not None and policy.fee_items else names
    amounts = st.one_of(money, st.just(quote_total)) if quote_total is not None else money
    return {
        "by": names,
        "note": notes,
        "carrier": names,
        "tracking_number": names,
        "amount": amounts,
        "reference": names,
        "lines": st.lists(
            st.fixed_dictionaries({"item": fee_items, "amount": line_amounts}), min_size=1, max_size=limits.LIST_MAX
        ),
        "work_done": texts,
        "passed": st.booleans(),
        "description": texts,
        "deadline": st.sampled_from([k.value for k in DeadlineKind]),
        "reason": texts,
        "summary": texts,
        "channel": st.sampled_from(["return_repair", "on_site_repair", "on_site_check"]),
        "items": st.lists(texts, min_size=1, max_size=limits.LIST_MAX),
        "outcome": st.sampled_from(["return_unpaid", "dispose"]),
        "days": st.integers(1, 90),
        "within_policy": st.booleans(),
        "assignee": names,
        "owed": st.lists(st.fixed_dictionaries({"item": fee_items, "amount": line_amounts}), max_size=2),
        "on": st.dates(min_value=limits.EARLIEST_DATE, max_value=date(2100, 12, 31)),  # a visit's day
        "professional": names,
        **findings_fields(policy),
    }


def payload_dicts(cls, policy: Policy | None = None, quote_total: Decimal | None = None) -> st.SearchStrategy[dict]:
    """The fields of action class `cls`: the required ones always, the optional ones sometimes."""
    values = field_values(policy, quote_total)
    required = {name: values[name] for name, f in cls.model_fields.items() if f.is_required()}
    optional = {name: values[name] for name, f in cls.model_fields.items() if not f.is_required()}
    return st.fixed_dictionaries(required, optional=optional)


def hostile_payload_dicts(cls) -> st.SearchStrategy[dict]:
    """Payloads of `cls`, valid or not."""
    return st.one_of(payload_dicts(cls), mutated(payload_dicts(cls)), hostile_value.map(lambda v: {"by": "amy", "x": v}))


# --- policy texts ---------------------------------------------------------------------------

NUMBER = re.compile(r"(?<![\w.\"-])-?\d+(?![\w.\"-])")
STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
CLAUSE_ID = re.compile(r'^(id = )"([^"]*)"', re.M)
huge_or_odd_numbers = st.sampled_from(
    ["0", "-1", "-48", "1", "25", "99999", "3000000", "100000000000000000000", str(2**63), "1.5", "nan", "inf", "-inf",
     "1e9", "0x7fffffff", "true", '"7"']
)  # fmt: skip


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# what a policy file read as UTF-8 can hold (no lone surrogates: claimflow/policy_files.py
# refuses a file that is not UTF-8 before parsing it)
file_text = hostile_text.filter(_utf8)


@st.composite
def mutated_policy_texts(draw) -> tuple[str, str]:
    """A seed policy's text with one to three edits: a line deleted or duplicated, a number
    made zero, negative or huge, a string replaced by garbage, a clause id swapped, the
    text cut short. Returns (policy name, text)."""
    name = draw(st.sampled_from(POLICY_NAMES))
    text = POLICY_TEXTS[name]
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["delete", "duplicate", "number", "number", "string", "swap_id", "truncate", "insert"]))
        lines = text.splitlines(keepends=True)
        if op in ("delete", "duplicate") and not lines:
            continue
        if op == "delete":
            del lines[draw(st.integers(0, len(lines) - 1))]
            text = "".join(lines)
        elif op == "duplicate":
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            text = "".join(lines)
        elif op == "number":
            found = list(NUMBER.finditer(text))
            if found:
                m = draw(st.sampled_from(found))
                text = text[: m.start()] + draw(huge_or_odd_numbers) + text[m.end() :]
        elif op == "string":
            found = list(STRING.finditer(text))
            if not found:
                continue
            m = draw(st.sampled_from(found))
            garbage = draw(file_text | st.sampled_from(["", "UTC", "Mars/Olympus", "xx", "X1", "I.2", "CNY", "24:00"]))
            quoted = draw(st.sampled_from([True, False]))
            new = '"' + garbage.replace("\\", "\\\\").replace('"', '\\"') + '"' if quoted else garbage
            text = text[: m.start()] + new + text[m.end() :]
        elif op == "swap_id":
            ids = CLAUSE_ID.findall(text)
            if len(ids) >= 2:
                (_, a), (_, b) = draw(st.lists(st.sampled_from(ids), min_size=2, max_size=2, unique=True))
                text = text.replace(f'id = "{a}"', "id = \0").replace(f'id = "{b}"', f'id = "{a}"')
                text = text.replace("id = \0", f'id = "{b}"')
        elif op == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
        elif op == "insert":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(file_text | st.sampled_from(["[[clauses]]\n", "x = 1\n", "[deadlines]\n", "}"])) + text[at:]
    return name, text


@st.composite
def any_action_payloads(draw, policy: Policy) -> dict:
    """A value for every field any action has (fields of `policy`), and which optional
    ones to send: drawn the same whatever action it will fill, so that a test can choose
    the action from the claim's state after drawing (see `payload_for`)."""
    values = draw(st.fixed_dictionaries(field_values(policy)))
    values["_send_optional"] = draw(st.booleans())
    values["_pay_the_quote"] = draw(st.booleans())
    return values


def payload_for(cls, values: dict, quote_total: Decimal | None = None) -> dict:
    """The payload of action class `cls` from `any_action_payloads`."""
    payload = {
        name: values[name]
        for name, field in cls.model_fields.items()
        if field.is_required() or values["_send_optional"]
    }
    if "amount" in payload and quote_total is not None and values["_pay_the_quote"]:
        payload["amount"] = quote_total
    return payload
