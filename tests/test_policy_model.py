"""Policy files: the shipped policy loads and is consistent; a malformed file is refused with
a PolicyError naming the file, the field and the reason."""

import re
from pathlib import Path

import pytest

from claimflow.policy_files import load_policy, load_policy_file, policy_names
from models.enums import POLICY_DEADLINE_KINDS, DeadlineKind
from models.policy import Policy, PolicyError, parse_policy
from tests.conftest import POLICY_DIR

CHANGKONG = POLICY_DIR / "changkong.toml"
SEED = Path("/work/shared/seeds/001_c3c7366cec5789fa.txt")


@pytest.fixture(scope="module")
def changkong_text() -> str:
    return CHANGKONG.read_text(encoding="utf-8")


def mutate(text: str, old: str, new: str) -> str:
    """Replace the first `old` with `new`, insisting that `old` is there."""
    assert old in text, f"{old!r} not in the policy text; the test is out of date"
    return text.replace(old, new, 1)


def cited_clause_ids(policy: Policy) -> dict[str, list[str]]:
    """Where each rule of the policy cites clauses, walked field by field."""
    cited = {}
    if policy.returns:
        cited["returns.clause_ids"] = policy.returns.clause_ids
        cited["returns.late_clause_ids"] = policy.returns.late_clause_ids
        cited["returns.condition_clause_ids"] = policy.returns.condition_clause_ids
    for n, clock in enumerate(policy.warranty.clocks):
        cited[f"warranty.clocks.{n}"] = clock.clause_ids
    cited["warranty.quality_clause_ids"] = policy.warranty.quality_clause_ids
    cited["warranty.paid_repair_clause_ids"] = policy.warranty.paid_repair_clause_ids
    if policy.post_repair_warranty:
        cited["post_repair_warranty"] = policy.post_repair_warranty.clause_ids
    for kind in POLICY_DEADLINE_KINDS:
        cited[f"deadlines.{kind.value}"] = policy.deadline_rule(kind).clause_ids
    for exclusion in policy.exclusions:
        cited[f"exclusions.{exclusion.id}"] = exclusion.clause_ids
    for n, rule in enumerate(policy.freight):
        cited[f"freight.{n}"] = rule.clause_ids
    return cited


# --- the shipped policy --------------------------------------------------------------


def test_the_shipped_policy_loads(changkong):
    assert "changkong" in policy_names(POLICY_DIR)
    assert changkong == load_policy_file(CHANGKONG)
    assert changkong.name == "changkong"
    assert changkong.timezone == "Asia/Shanghai"
    assert changkong.holiday_country == "CN"
    assert changkong.currency == "CNY"
    assert changkong.source_seed == SEED.name


def test_every_cited_clause_exists(changkong):
    defined = {clause.id for clause in changkong.clauses}
    cited = cited_clause_ids(changkong)
    assert all(cited.values())  # every rule cites at least one clause
    undefined = {where: ids for where, ids in cited.items() if not set(ids) <= defined}
    assert undefined == {}
    for clause_id in {c for ids in cited.values() for c in ids}:
        assert changkong.clause_text(clause_id)


def test_clause_ids_are_unique(changkong):
    ids = [clause.id for clause in changkong.clauses]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("number", "clause_id", "phrase"),
    [
        (lambda p: p.returns.window_days, "RET-1", "{} natural days"),
        (lambda p: p.returns.window_days, "RET-X1", "{} natural days"),
        (lambda p: p.warranty.clocks[0].days, "I.1-PROOF", "{} days from the date of purchase"),
        (lambda p: p.warranty.clocks[1].days, "I.1-NOPROOF", "{} days from the date of shipment"),
        (lambda p: p.post_repair_warranty.days, "I.NOTE", "{} days of extended warranty"),
        (lambda p: p.deadlines.repair.days, "IV.5", "within {} working days"),
        (lambda p: p.deadlines.shipping.days, "RET-X7", "within {} natural days"),
        (lambda p: p.deadlines.quote.days, "CF-QUOTE", "valid for {} natural days"),
        (lambda p: p.deadlines.payment.days, "CF-PAYMENT", "within {} natural days"),
    ],
)
def test_numbers_in_the_rules_match_the_clauses_they_cite(changkong, number, clause_id, phrase):
    assert phrase.format(number(changkong)) in changkong.clause_text(clause_id)


def test_the_rules_match_the_seed_semantics(changkong):
    clocks = {c.counted_from: c for c in changkong.warranty.clocks}
    assert clocks["purchase"].requires_proof_of_purchase is True
    assert clocks["factory_shipment"].requires_proof_of_purchase is False
    assert changkong.warranty.clocks[0].counted_from == "purchase"  # with proof, purchase counts first
    assert changkong.deadlines.repair.calendar == "working"


def test_the_policy_quotes_the_seed(changkong):
    """The seed's own clauses (not claimflow's CF-* rules) quote the seed text."""
    seed = " ".join(SEED.read_text(encoding="utf-8").split())
    for clause_id, quoted in [
        ("I.1-NOPROOF", "the warranty period is 240 days from the date of shipment from the factory"),
        ("I.1-PROOF", "the warranty period is 180 days from the date of purchase"),
        ("IV.4", "the repair process will be carried out after the user agrees to the repair offer"),
    ]:
        assert quoted in changkong.clause_text(clause_id)
        assert quoted in seed
    for clause in changkong.clauses:
        if clause.id.startswith("CF-"):
            assert "claimflow" in clause.text  # marked as claimflow's own rule


def test_deadline_rules_and_ladders(changkong):
    for kind in (DeadlineKind.SHIPPING, DeadlineKind.QUOTE, DeadlineKind.REPAIR, DeadlineKind.PAYMENT):
        rule = changkong.deadline_rule(kind)
        offsets = [step.offset_hours for step in rule.ladder]
        assert offsets == sorted(offsets)
        assert offsets[0] < 0  # a reminder before the deadline
        assert 0 in offsets
    post = changkong.deadline_rule(DeadlineKind.POST_REPAIR_WARRANTY)
    assert (post.days, post.calendar, post.clause_ids, post.ladder) == (60, "natural", ["I.NOTE"], [])


def test_post_repair_deadline_needs_the_rule(changkong):
    policy = changkong.model_copy(update={"post_repair_warranty": None})
    with pytest.raises(ValueError, match="no post-repair warranty"):
        policy.deadline_rule(DeadlineKind.POST_REPAIR_WARRANTY)


def test_parse_policy_of_the_shipped_text(changkong_text, changkong):
    assert parse_policy(changkong_text, "anything.toml") == changkong


# --- malformed files -----------------------------------------------------------------

TWO_SHIPPING_STEPS = '{ offset_hours = -48, level = "reminder", notify = "customer" },\n  { offset_hours = 0,'


@pytest.mark.parametrize(
    ("old", "new", "field", "reason"),
    [
        pytest.param("window_days = 7\n", "window_days = \n", "(file)", "not valid TOML", id="invalid-toml"),
        pytest.param('currency = "CNY"', 'currency = "CNY\n', "(file)", "not valid TOML", id="unterminated-string"),
        pytest.param(
            "window_days = 7", "window_dayz = 7", "returns.window_dayz", "Extra inputs are not permitted",
            id="typo-key",
        ),
        pytest.param(
            "offset_hours = -48", "offset_hour = -48", "deadlines.shipping.ladder.0.offset_hour",
            "Extra inputs are not permitted", id="typo-key-in-ladder",
        ),
        pytest.param(
            'clause_ids = ["III.2"]', 'clause_ids = ["III.9"]', "(policy)", "rules cite clauses that are not defined: III.9",
            id="undefined-clause-id",
        ),
        pytest.param(
            'timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghia"', "timezone",
            "unknown time zone 'Asia/Shanghia'", id="unknown-time-zone",
        ),
        pytest.param(
            TWO_SHIPPING_STEPS, TWO_SHIPPING_STEPS.replace("-48", "30"), "deadlines.shipping.ladder",
            "escalation steps must be listed in time order", id="ladder-out-of-order",
        ),
        pytest.param(
            'id = "RET-2"', 'id = "RET-1"', "(policy)", "clause ids used twice: RET-1", id="duplicate-clause-id",
        ),
        pytest.param(
            'id = "labels_tampered"', 'id = "misuse"', "(policy)", "exclusion ids must be unique",
            id="duplicate-exclusion-id",
        ),
        pytest.param(
            'level = "supervisor"', 'level = "boss"', "deadlines.shipping.ladder.2.level", "Input should be",
            id="unknown-escalation-level",
        ),
        pytest.param(
            'calendar = "working"', 'calendar = "business"', "deadlines.repair.calendar", "Input should be",
            id="unknown-calendar",
        ),
        pytest.param(
            "days = 180", "days = 0", "warranty.clocks.0.days", "greater than 0", id="zero-warranty-days",
        ),
        pytest.param('currency = "CNY"', 'currency = "cny"', "currency", "should match pattern", id="currency"),
        pytest.param(
            'late_clause_ids = ["RET-X1"]', "late_clause_ids = []", "returns.late_clause_ids", "at least 1",
            id="rule-citing-no-clause",
        ),
        pytest.param(
            "when = {}", 'when = { covered = false }', "(policy)", "the last freight rule must match every claim",
            id="no-catch-all-freight-rule",
        ),
        pytest.param(
            'calendar = "natural"\nclause_ids = ["RET-X7"]',
            'calendar = "natural"\nstarts_at = "parcel_received"\nclause_ids = ["RET-X7"]',
            "deadlines", "starts_at applies to the repair deadline only", id="starts-at-on-shipping",
        ),
        pytest.param(
            'currency = "CNY"', 'currency = "CNY"\nfee_items = ["labour"]', "(policy)", "fee_items need fee_clause_ids",
            id="fee-items-citing-nothing",
        ),
        pytest.param(
            'kind = "return_repair"',
            'kind = "on_site_repair"\ndocumentation_required = true',
            "channels.0", "documentation_required needs documentation_clause_ids", id="documentation-citing-nothing",
        ),
        pytest.param('holiday_country = "CN"\n', "", None, None, id="optional-field-may-go"),
    ],
)
def test_a_malformed_policy_file_is_refused(tmp_path, changkong_text, old, new, field, reason):
    path = tmp_path / "changkong.toml"
    path.write_text(mutate(changkong_text, old, new), encoding="utf-8")
    if field is None:  # control: the mutation is harmless
        assert load_policy_file(path).name == "changkong"
        return
    with pytest.raises(PolicyError) as caught:
        load_policy_file(path)
    err = caught.value
    assert err.source == str(path)
    fields = [f for f, _ in err.problems]
    assert field in fields
    found = dict(err.problems)[field]
    assert reason in found
    message = str(err)
    assert f"{path}: {field}: " in message  # file, field path and reason on one line
    assert all(line.startswith(f"{path}: ") for line in message.splitlines())
    assert len(message.splitlines()) == len(err.problems)


def test_a_typo_also_reports_the_missing_field(tmp_path, changkong_text):
    path = tmp_path / "changkong.toml"
    path.write_text(mutate(changkong_text, "window_days = 7", "window_dayz = 7"), encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy_file(path)
    assert dict(caught.value.problems) == {
        "returns.window_dayz": "Extra inputs are not permitted",
        "returns.window_days": "Field required",
    }


def test_every_undefined_clause_is_named(tmp_path, changkong_text):
    text = mutate(changkong_text, 'clause_ids = ["III.2"]', 'clause_ids = ["III.9"]')
    text = mutate(text, 'clause_ids = ["I.NOTE"]', 'clause_ids = ["I.NOTES"]')
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "x.toml")
    assert "rules cite clauses that are not defined: I.NOTES, III.9" in str(caught.value)


def test_parse_policy_names_its_source(changkong_text):
    with pytest.raises(PolicyError) as caught:
        parse_policy(mutate(changkong_text, 'name = "changkong"', 'name = "Chang Kong"'), "policies/odd.toml")
    assert caught.value.source == "policies/odd.toml"
    assert re.search(r"^policies/odd\.toml: name: String should match pattern", str(caught.value), re.M)


def test_file_name_must_match_the_policy_name(tmp_path, changkong_text):
    path = tmp_path / "changkong2.toml"
    path.write_text(changkong_text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy_file(path)
    assert caught.value.problems == [("name", "must match the file name 'changkong2', not 'changkong'")]
    assert str(caught.value).startswith(f"{path}: name: ")


def test_an_unreadable_file_is_a_policy_error(tmp_path):
    path = tmp_path / "missing.toml"
    with pytest.raises(PolicyError) as caught:
        load_policy_file(path)
    assert caught.value.source == str(path)
    assert caught.value.problems[0][0] == "(file)"
    assert "No such file" in caught.value.problems[0][1]


@pytest.mark.parametrize(
    ("files", "known"),
    [([], "none"), (["changkong"], "changkong"), (["zeta", "changkong"], "changkong, zeta")],
)
def test_an_unknown_policy_name_lists_the_known_ones(tmp_path, changkong_text, files, known):
    for name in files:
        (tmp_path / f"{name}.toml").write_text(changkong_text.replace('"changkong"', f'"{name}"', 1))
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path, "changkng")
    assert caught.value.source == str(tmp_path / "changkng.toml")
    assert caught.value.problems == [("(file)", f"no policy named 'changkng'; known: {known}")]


def test_load_policy_finds_a_policy_by_name(tmp_path, changkong_text):
    (tmp_path / "zeta.toml").write_text(mutate(changkong_text, 'name = "changkong"', 'name = "zeta"'))
    assert policy_names(tmp_path) == ["zeta"]
    policy = load_policy(tmp_path, "zeta")
    assert policy.name == "zeta"
    assert policy.clauses == load_policy_file(CHANGKONG).clauses


def test_a_loaded_policy_is_read_again_when_its_file_changes(tmp_path, changkong_text):
    path = tmp_path / "changkong.toml"
    path.write_text(changkong_text)
    first = load_policy_file(path)
    first.clauses.clear()  # a caller's changes stay its own
    assert load_policy_file(path).clauses
    path.write_text(changkong_text.replace('timezone = "Asia/Shanghai"', 'timezone = "Europe/Berlin"'))
    assert load_policy_file(path).timezone == "Europe/Berlin"
