"""Accepted findings (SPEC section 7): the baseline file and `ignore` entries.

A run's violations are fingerprinted (fingerprint.py); those matching the baseline
(baseline.py) or an `ignore` entry (settings.py) are marked accepted and no longer fail
their gate (judge.py). Reporters then show new and accepted violations apart.
"""
