"""The fixed twin of wallet_flask_buggy.py: ids from an atomic counter, withdraw under a lock."""

from _wallet import create_app

app = create_app(safe=True)
