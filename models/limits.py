"""The payload budget: how much an agent can type, list and repeat on one claim.

Every free-text field, list and amount is bounded, and so is every loop of a claim's
life, so that nothing anyone types can push a claim's payloads (its input, an action, its
view, its history) toward Temporal's limits (2 MB per payload) or make the workflow's own
code fail. `claims actions` prints these limits; tests/test_payload_budget.py drives a
claim through its longest legal life with maximal inputs.
"""

from datetime import date
from decimal import Decimal

NAME_MAX = 200  # names, contacts, who did it, carriers, tracking numbers, references, fee items
TEXT_MAX = 500  # descriptions, reasons, summaries, work done, documentation items
NOTE_MAX = 2_000  # an action's free note (kept once, in the timeline entry of that action)
ID_MAX = 100  # ids of a policy's exclusions, conditions, defects
LIST_MAX = 20  # fee lines, documentation items, exclusions, non-repairable conditions
LINE_AMOUNT_MAX = Decimal("10000000")  # one fee line: 10 million
AMOUNT_MAX = Decimal("1000000000")  # a payment or refund: 1 billion (20 lines at most stay far inside)
CONTRACT_MONTHS_MAX = 240  # a sales contract's warranty: 20 years
EARLIEST_DATE = date(1990, 1, 1)  # purchase, receipt and factory shipment dates

# Loops of a claim's life, each refused past its bound (a supervisor can cancel instead).
QUOTES_MAX = 10  # quotes sent on one claim
REPAIR_ATTEMPTS_MAX = 10  # quality checks failed on one claim
FAULT_REPORTS_MAX = 5  # new faults reported in the post-repair windows
EXTENSIONS_MAX = 5  # extensions of one deadline
REOPENS_MAX = 3  # reopenings of an expired claim
TIMELINE_IN_VIEW = 300  # the view carries the newest entries; the `timeline` query pages the rest
# A claim's workflow continues as new past this many events in one run (or when Temporal
# suggests it): each run's history stays short to fetch and replay (models.claim.CarriedClaim).
# Snapshotted into each claim's input when it opens: changing it moves new claims only.
HISTORY_EVENTS_MAX = 1_000
COMPLAINT_REOPENS_MAX = 3  # times a customer not satisfied reopens one complaint (then a supervisor closes it)
COMPLAINT_REASSIGNS_MAX = 10  # times one complaint is routed to another department
