"""Torture suite: the real tap and target, piped, under faults, crashes and hostile input.

Every scenario runs ``tap-salesforce-bulk | target-postgres-upsert`` (or ``meltano run``) as
subprocesses against the Salesforce emulator and a real PostgreSQL, reruns the way a user would
(from the last STATE the target printed), and compares the final table with the emulator's data.

``python -m tests.torture`` runs everything and prints a Markdown table; ``--quick`` runs the
subset that ``test_torture_quick.py`` gives CI.
"""
