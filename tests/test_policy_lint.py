"""The policy lint (models/policy_lint.py): each check on a small crafted policy, broken and
fixed, and every shipped policy linted clean."""

from collections.abc import Iterator
from typing import Any

import pytest

from claimflow.policy_files import load_policy, policy_names
from claimflow.settings import REPO_ROOT
from models.policy import Policy, parse_policy
from models.policy_lint import CONTEXTS, LintProblem, citations, lint

POLICY_DIR = REPO_ROOT / "policies"

# Returns, a one-year warranty, one informational clause and one claimflow clause.
TINY = """
name = "tiny"
manufacturer = "Tiny Co."
source_seed = "tiny.txt"
timezone = "Asia/Shanghai"
currency = "CNY"

[[clauses]]
id = "RET"
text = "A product may be returned within 7 days of receipt, unused and complete."
scope = ["return"]

[[clauses]]
id = "WAR"
text = "A fault of the product itself is repaired free of charge for one year from purchase."
scope = ["repair"]

[[clauses]]
id = "ADDR"
text = "Our service centre: 1 Factory Road."
informational = "an address: no step of a claim follows from it"

[[clauses]]
id = "CF-FREIGHT"
text = "claimflow operating rule (the seed is silent): the manufacturer pays the freight."

[returns]
window_days = 7
clause_ids = ["RET"]
late_clause_ids = ["RET"]
condition_clause_ids = ["RET"]

[warranty]
quality_clause_ids = ["WAR"]
paid_repair_clause_ids = ["WAR"]

[[warranty.clocks]]
counted_from = "purchase"
requires_proof_of_purchase = true
days = 365
clause_ids = ["WAR"]

[[freight]]
when = {}
to_factory = "manufacturer"
back_to_customer = "manufacturer"
clause_ids = ["CF-FREIGHT"]

[deadlines]
shipping = { days = 7, calendar = "natural", clause_ids = ["RET"] }
quote = { days = 7, calendar = "natural", clause_ids = ["WAR"] }
repair = { days = 3, calendar = "working", clause_ids = ["WAR"] }
payment = { days = 7, calendar = "natural", clause_ids = ["WAR"] }
"""


def tiny(*edits: tuple[str, str]) -> Policy:
    """The tiny policy with each (old, new) text replaced once."""
    text = TINY
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return parse_policy(text, "tiny.toml")


def messages(policy: Policy) -> list[str]:
    return [problem.message for problem in lint(policy)]


def test_the_tiny_policy_is_clean():
    assert lint(tiny()) == []


def test_lint_finds_what_the_policy_cites():
    policy = tiny()
    assert {cid for c in citations(policy.model_dump()) for cid in c.clause_ids} == policy.cited_clause_ids()


# --- a. every clause is accounted for --------------------------------------------------


def test_a_clause_no_rule_cites_needs_an_informational_note():
    policy = tiny(('informational = "an address: no step of a claim follows from it"\n', ""))
    assert lint(policy) == [
        LintProblem("ADDR", "clause ADDR is cited by no rule and has no informational note saying why it is kept.")
    ]


def test_a_cited_clause_with_an_informational_note_is_stale():
    policy = tiny(('scope = ["repair"]', 'scope = ["repair"]\ninformational = "a promise with no step"'))
    assert messages(policy) == [
        "clause WAR is cited by warranty.clocks[0], warranty.quality_clause_ids, warranty.paid_repair_clause_ids, "
        "deadlines.quote, deadlines.repair, deadlines.payment yet keeps a stale informational note; remove the note."
    ]


# --- b. scope -----------------------------------------------------------------------------


def test_a_return_clause_cited_for_repairs_is_out_of_scope():
    policy = tiny(('days = 365\nclause_ids = ["WAR"]', 'days = 365\nclause_ids = ["WAR", "RET"]'))
    assert messages(policy) == [
        "clause RET (scope: return) is cited by warranty.clocks[0], which applies to repair claims."
    ]


def test_a_clause_with_no_scope_may_be_cited_for_every_kind():
    unscoped = ('scope = ["return"]\n', "")
    policy = tiny(unscoped, ('days = 365\nclause_ids = ["WAR"]', 'days = 365\nclause_ids = ["RET"]'))
    assert lint(policy) == []


EXCLUSION = '\n[[exclusions]]\nid = "misuse"\nlabel = "misuse"\neffect = "no_free_service"\n{applies_to}'
EXCLUSION += 'clause_ids = ["WAR"]\n'
FREIGHT = '[[freight]]\nwhen = {when}\nto_factory = "customer"\nback_to_customer = "customer"\nclause_ids = ["WAR"]\n\n'
FEES = ('currency = "CNY"\n', 'currency = "CNY"\nfee_clause_ids = ["WAR"]\n')
NO_RETURNS_BUT_TIERS = (
    '[returns]\nwindow_days = 7\nclause_ids = ["RET"]\nlate_clause_ids = ["RET"]\ncondition_clause_ids = ["RET"]\n',
    '[[warranty.tiers]]\nup_to_day = 7\nremedy = "refund"\nclause_ids = ["RET"]\n',
)


@pytest.mark.parametrize(
    "edit, problem",
    [
        pytest.param(
            ("[[freight]]", EXCLUSION.format(applies_to="") + "\n[[freight]]"),
            "clause WAR (scope: repair) is cited by exclusions[0] (misuse), which applies to return and repair claims.",
            id="an exclusion for returns and repairs",
        ),
        pytest.param(
            ("[[freight]]", FREIGHT.format(when='{ remedy = ["refund"] }') + "[[freight]]"),
            "clause WAR (scope: repair) is cited by freight[0], which applies to return claims.",
            id="freight for a refund",
        ),
        pytest.param(
            ("[[freight]]", FREIGHT.format(when='{ kind = ["return"], covered = true }') + "[[freight]]"),
            "clause WAR (scope: repair) is cited by freight[0], which applies to return claims.",
            id="freight for a return",
        ),
        pytest.param(
            ('clause_ids = ["CF-FREIGHT"]', 'clause_ids = ["CF-FREIGHT", "WAR"]'),
            "clause WAR (scope: repair) is cited by freight[0], which applies to return and repair claims.",
            id="freight for every kind",
        ),
        pytest.param(
            NO_RETURNS_BUT_TIERS,
            "clause WAR (scope: repair) is cited by warranty.quality_clause_ids, which applies to return and repair "
            "claims.",
            id="a return past the tiers is repaired",
        ),
    ],
)
def test_a_repair_clause_cited_for_returns_is_out_of_scope(edit: tuple[str, str], problem: str):
    assert problem in messages(tiny(edit))


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(("[[freight]]", EXCLUSION.format(applies_to='applies_to = ["repair"]\n') + "\n[[freight]]"),
                     id="an exclusion for repairs"),
        pytest.param(("[[freight]]", FREIGHT.format(when='{ kind = ["repair"] }') + "[[freight]]"),
                     id="freight for a repair claim"),
        pytest.param(("[[freight]]", FREIGHT.format(when='{ remedy = ["paid_repair"] }') + "[[freight]]"),
                     id="freight for a paid repair"),
        pytest.param(('calendar = "natural", clause_ids = ["RET"]', 'calendar = "natural", clause_ids = ["WAR"]'),
                     id="the shipping deadline is exempt"),
        pytest.param(FEES, id="fees: repairs (and services) only"),
    ],
)  # fmt: skip
def test_a_repair_clause_cited_for_repairs_only_is_in_scope(edit: tuple[str, str]):
    assert lint(tiny(edit)) == []


def test_tiers_without_returns_move_the_tier_clauses_and_the_warranty_to_returns():
    with_tiers = tiny(NO_RETURNS_BUT_TIERS)
    assert with_tiers.claim_kinds == ["return", "repair"]
    assert {p.clause_id for p in lint(with_tiers)} == {"WAR"}  # the tier's RET is in scope


def test_a_rule_path_with_no_scope_context_is_a_problem(monkeypatch):
    policy = tiny(FEES)
    assert lint(policy) == []
    monkeypatch.delitem(CONTEXTS, "fee_clause_ids")
    assert messages(policy) == [
        "clause WAR is cited by fee_clause_ids, but the lint has no scope context for path fee_clause_ids; "
        "give that rule path its claim kinds in CONTEXTS (models/policy_lint.py)."
    ]


def _schema_paths(node: dict[str, Any], defs: dict[str, Any], pattern: str = "") -> Iterator[str]:
    """Every rule path (as CONTEXTS writes them) that the policy model can hold."""
    if "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[1]]
    for option in node.get("anyOf", []):
        yield from _schema_paths(option, defs, pattern)
    if node.get("type") == "array":
        yield from _schema_paths(node.get("items", {}), defs, f"{pattern}[*]")
    for key, value in node.get("properties", {}).items():
        if key.endswith("clause_ids"):
            yield (pattern if key == "clause_ids" else f"{pattern}.{key}").lstrip(".")
        else:
            yield from _schema_paths(value, defs, f"{pattern}.{key}")


def test_every_rule_path_of_the_policy_model_has_a_scope_context():
    schema = Policy.model_json_schema()
    assert set(_schema_paths(schema, schema["$defs"])) == set(CONTEXTS)


# --- c. claimflow's clauses say so ---------------------------------------------------------


def test_a_claimflow_clause_says_it_is_claimflows():
    policy = tiny(("claimflow operating rule (the seed is silent): the", "The"))
    assert lint(policy) == [
        LintProblem(
            "CF-FREIGHT",
            "clause CF-FREIGHT is claimflow's own (CF-*), so its text must start with 'claimflow operating rule' "
            "or 'claimflow reading'.",
        )
    ]
    assert lint(tiny(("claimflow operating rule (the seed is silent)", "claimflow reading of the seed"))) == []


# --- the shipped policies ------------------------------------------------------------------


@pytest.mark.parametrize("name", policy_names(POLICY_DIR))
def test_every_shipped_policy_lints_clean(name: str):
    assert [f"{p.clause_id}: {p.message}" for p in lint(load_policy(POLICY_DIR, name))] == []
