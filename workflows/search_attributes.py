"""The claim's search attributes: what Temporal's visibility can filter claims by.

No personal data here: state, policy and whether a deadline is overdue. `claims up`
registers them on the dev server and `claims setup` on a cluster.
"""

from temporalio.common import SearchAttributeKey

CLAIM_STATE = SearchAttributeKey.for_keyword("ClaimState")
CLAIM_POLICY = SearchAttributeKey.for_keyword("ClaimPolicy")
CLAIM_OVERDUE = SearchAttributeKey.for_bool("ClaimOverdue")

SEARCH_ATTRIBUTES = (CLAIM_STATE, CLAIM_POLICY, CLAIM_OVERDUE)
