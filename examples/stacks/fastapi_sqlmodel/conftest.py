"""Test-run settings, applied before the app is imported (its settings are read once, at import)."""

import os

# bcrypt's production work factor (12) costs ~0.4 s per hash on a small CI machine; tests don't need it.
os.environ.setdefault("STACK_BCRYPT_ROUNDS", "4")
