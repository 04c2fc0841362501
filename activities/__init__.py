"""Everything with side effects, run by the worker as Temporal activities."""
