"""The field suite: replayqa on real third-party apps, with Schemathesis measured beside it.

``python -m bench.field [--apps NAME,...] [--budget SECONDS] [--quick] [--json PATH]``;
docs/field.md explains what each figure means and how it is counted.
"""
