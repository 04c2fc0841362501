"""No action payload can wedge a claim: for every action, any payload is either refused by
the model (one clear line per problem) or accepted, and an accepted one is what the worker
decodes (its JSON reads back equal) and stays under 64 KB. Pure: no server."""

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from models.actions import ACTIONS
from tests.strategies import POLICIES, examples, field_values, hostile_payload_dicts, one_clear_line_per_problem

KB = 1024


@settings(max_examples=examples(300, 10_000))
@given(name=st.sampled_from(sorted(ACTIONS)), data=st.data())
def test_an_action_payload_is_accepted_or_refused_with_one_clear_message(name, data):
    cls = ACTIONS[name]
    raw = data.draw(hostile_payload_dicts(cls), label="payload")
    try:
        action = cls.model_validate(raw)
    except ValidationError as error:
        one_clear_line_per_problem(error)
        return
    sent = action.model_dump_json()
    assert len(sent.encode()) < 64 * KB
    assert cls.model_validate_json(sent) == action  # the workflow decodes what was sent


def test_every_field_of_every_action_is_fuzzed():
    """A field added to an action gets a strategy, or this fails."""
    for policy in [None, *POLICIES.values()]:
        values = field_values(policy)
        for name, cls in ACTIONS.items():
            missing = set(cls.model_fields) - set(values)
            assert not missing, f"{name}: no strategy for {sorted(missing)} in tests/strategies.py"
