"""Which twin of the shop runs: the fixed one, or with ``SHOP_DEFECTS=1`` the broken one.

The broken twin carries one realistic defect per gate of pytest-backend-gates, next to the
code it replaces: an ``if DEFECTS:`` block (or a value chosen with ``DEFECTS``) with a
DEFECT(kind) comment saying what is wrong and which gate finds it, and the fix in the
``else:`` block with a FIX(kind) comment. ``python3 dev.py demo --broken`` runs the gates on
it (see README.md). Read once, at import: a twin is chosen per process.
"""

import os

DEFECTS = os.environ.get("SHOP_DEFECTS") == "1"
