"""The policy lint: keeps a policy's clauses and the rules that cite them in step.

`lint(policy)` finds, in words a policy author understands:

a. a clause no rule cites that does not say why it is kept (`informational`), and a clause
   that is cited yet still carries such a note (a stale informational note);
b. a clause cited by a rule that applies to a claim kind outside the clause's `scope`
   (a warranty clause on a return, a return clause on a repair). Which claim kinds a rule
   applies to is its *context*: `CONTEXTS` below, one entry per rule path. A path it does
   not know is a problem of its own, so that a new rule field cannot slip through unchecked;
c. a claimflow clause (id "CF-*") whose text does not say it is claimflow's own.

Pure: no I/O, no clock.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from models.enums import ClaimKind, Remedy
from models.policy import Policy

RETURN, REPAIR, SERVICE = ClaimKind.RETURN, ClaimKind.REPAIR, ClaimKind.SERVICE
CF_TEXT_STARTS = ("claimflow operating rule", "claimflow reading")


@dataclass(frozen=True)
class LintProblem:
    clause_id: str
    message: str


# --- contexts: the claim kinds each rule path applies to -------------------------------

Rule = dict[str, Any]  # the dumped rule object that holds the citing key
Context = Callable[[Policy, Rule], set[ClaimKind]]


def _returns(policy: Policy, rule: Rule) -> set[ClaimKind]:
    return {RETURN}


def _warranty(policy: Policy, rule: Rule) -> set[ClaimKind]:
    """Repairs; and returns when the policy has Three Guarantees tiers but no return rule:
    a return past the tiers is repaired under the warranty."""
    repaired_returns = {RETURN} if policy.returns is None and policy.warranty.tiers else set()
    return {REPAIR} | repaired_returns


def _repair(policy: Policy, rule: Rule) -> set[ClaimKind]:
    return {REPAIR}


def _quoted_work(policy: Policy, rule: Rule) -> set[ClaimKind]:
    """Work that is quoted, done and paid: repairs (as for the warranty) and services."""
    return _warranty(policy, rule) | {SERVICE}


def _fees(policy: Policy, rule: Rule) -> set[ClaimKind]:
    return {REPAIR, SERVICE}


def _channel(policy: Policy, rule: Rule) -> set[ClaimKind]:
    """A channel serves repairs and services; a return ships in and is decided by the
    return rule or the Three Guarantees, with no channel decision (readings 2)."""
    return {REPAIR, SERVICE}


def _service(policy: Policy, rule: Rule) -> set[ClaimKind]:
    return {SERVICE}


def _every_kind(policy: Policy, rule: Rule) -> set[ClaimKind]:
    return set(policy.claim_kinds)


def _exclusion(policy: Policy, rule: Rule) -> set[ClaimKind]:
    """The kinds the exclusion names in `applies_to`."""
    return set(rule["applies_to"])


def _remedy_kinds(policy: Policy, remedy: Remedy) -> set[ClaimKind]:
    """The kinds that can get `remedy` (as models/rules.py decides): a refund only a return,
    a paid service only a service, a repair, a replacement or "not repairable" only what
    the warranty repairs (`_warranty`), a refusal any kind."""
    if remedy is Remedy.REFUND:
        return {RETURN}
    if remedy is Remedy.PAID_SERVICE:
        return {SERVICE}
    if remedy is Remedy.REJECTED:
        return set(ClaimKind)
    return _warranty(policy, {})


def _freight(policy: Policy, rule: Rule) -> set[ClaimKind]:
    """The kinds in `when.kind` (none given: every kind), less the kinds that can get none
    of the remedies in `when.remedy`."""
    when = rule["when"]
    kinds = set(when["kind"] or policy.claim_kinds)
    if when["remedy"]:
        kinds &= set().union(*(_remedy_kinds(policy, r) for r in when["remedy"]))
    return kinds


# Rule path -> context. A path is the citing key under its rule, "[*]" for any list
# index, and the key left out when it is the rule's own `clause_ids`. None: exempt from the
# scope check. Every context is then narrowed to the kinds the policy takes.
CONTEXTS: dict[str, Context | None] = {
    "returns": _returns,
    "returns.late_clause_ids": _returns,
    "returns.condition_clause_ids": _returns,
    "returns.proof_clause_ids": _returns,
    "warranty.tiers[*]": _returns,  # Three Guarantees: a product given back
    "warranty.clocks[*]": _warranty,
    "warranty.quality_clause_ids": _warranty,
    "warranty.paid_repair_clause_ids": _warranty,
    "warranty.scope[*]": _warranty,
    "warranty.replacement_clause_ids": _warranty,
    "warranty.no_proof_clause_ids": _warranty,
    "post_repair_warranty": _repair,
    "exclusions[*]": _exclusion,
    "non_repairable[*]": _warranty,
    "freight[*]": _freight,
    # the engine cites its own CF-DL-REPAIR-SHIPPING for repair and service claims when
    # the policy's shipping clauses speak of returns only
    "deadlines.shipping": None,
    "deadlines.quote": _quoted_work,
    "deadlines.repair": _quoted_work,
    "deadlines.payment": _quoted_work,
    "channels[*]": _channel,
    "channels[*].documentation_clause_ids": _channel,
    "channels[*].fees_clause_ids": _channel,
    "channels[*].determination_clause_ids": _channel,
    "fee_clause_ids": _fees,
    "service": _service,
    "service_hours": _every_kind,
    # complaints are not claims: a clause's scope (claim kinds) does not bear on them
    "complaints": None,
    "complaints.reply_clause_ids": None,
    "complaints.emergency_clause_ids": None,
    "complaints.feedback_clause_ids": None,
    "complaints.leader_clause_ids": None,
    "complaints.departments[*]": None,
    "complaints.categories[*]": None,
    "complaints.levels[*]": None,
}


@dataclass(frozen=True)
class Citation:
    path: str  # where, e.g. "exclusions[3]" or "channels[0].fees_clause_ids"
    pattern: str  # its key in CONTEXTS, e.g. "exclusions[*]"
    rule: Rule
    clause_ids: list[str]


def citations(data: Any, path: str = "", pattern: str = "") -> Iterator[Citation]:
    """Every list of clause ids in a dumped policy (keys ending in `clause_ids`), with where it is."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key.endswith("clause_ids") and isinstance(value, list):
                here = "" if key == "clause_ids" else f".{key}"
                yield Citation(f"{path}{here}".lstrip("."), f"{pattern}{here}".lstrip("."), data, value)
            else:
                yield from citations(value, f"{path}.{key}", f"{pattern}.{key}")
    elif isinstance(data, list):
        for n, item in enumerate(data):
            yield from citations(item, f"{path}[{n}]", f"{pattern}[*]")


def _kinds(kinds: set[ClaimKind] | list[ClaimKind]) -> str:
    """"return and repair": the kinds in ClaimKind's order."""
    names = [k.value for k in ClaimKind if k in kinds]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def _where(citation: Citation) -> str:
    """The path, with the rule's id or channel kind when it has one: "exclusions[3] (misuse)"."""
    name = citation.rule.get("id") or citation.rule.get("kind")
    return f"{citation.path} ({name})" if isinstance(name, str) else citation.path


def _scope_problems(policy: Policy, citation: Citation) -> Iterator[LintProblem]:
    if citation.pattern not in CONTEXTS:
        for cid in citation.clause_ids:
            yield LintProblem(
                cid,
                f"clause {cid} is cited by {citation.path}, but the lint has no scope context for path "
                f"{citation.pattern}; give that rule path its claim kinds in CONTEXTS (models/policy_lint.py).",
            )
        return
    context = CONTEXTS[citation.pattern]
    if context is None:
        return
    kinds = context(policy, citation.rule) & set(policy.claim_kinds)
    scopes = {c.id: c.scope for c in policy.clauses}
    for cid in citation.clause_ids:
        scope = scopes[cid]
        if scope and not kinds <= set(scope):
            yield LintProblem(
                cid,
                f"clause {cid} (scope: {_kinds(scope)}) is cited by {_where(citation)}, "
                f"which applies to {_kinds(kinds)} claims.",
            )


def _clause_problems(policy: Policy, cited_by: dict[str, list[str]]) -> Iterator[LintProblem]:
    """a. every clause cited or informational, not both; c. a CF clause says it is claimflow's."""
    for clause in policy.clauses:
        cid, paths = clause.id, ", ".join(cited_by.get(clause.id, []))
        if not paths and clause.informational is None:
            yield LintProblem(
                cid, f"clause {cid} is cited by no rule and has no informational note saying why it is kept."
            )
        if paths and clause.informational is not None:
            yield LintProblem(
                cid, f"clause {cid} is cited by {paths} yet keeps a stale informational note; remove the note."
            )
        if cid.startswith("CF-") and not clause.text.startswith(CF_TEXT_STARTS):
            yield LintProblem(
                cid,
                f"clause {cid} is claimflow's own (CF-*), so its text must start with "
                f"{' or '.join(repr(s) for s in CF_TEXT_STARTS)}.",
            )


def lint(policy: Policy) -> list[LintProblem]:
    """Every problem of the policy's clauses, in the order of its clauses."""
    cited = list(citations(policy.model_dump()))
    cited_by: dict[str, list[str]] = {}
    for citation in cited:
        for cid in citation.clause_ids:
            cited_by.setdefault(cid, []).append(_where(citation))
    found = [*_clause_problems(policy, cited_by), *(p for c in cited for p in _scope_problems(policy, c))]
    order = {c.id: n for n, c in enumerate(policy.clauses)}
    return sorted(found, key=lambda p: order[p.clause_id])
