"""Where the plugin's own files are: frames and modules in it are never the app's code."""

from __future__ import annotations

import os

PACKAGE_DIR = os.path.dirname(os.path.realpath(__file__))  # .../pytest_backend_gates, no trailing separator
