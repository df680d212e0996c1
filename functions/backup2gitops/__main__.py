"""``python -m backup2gitops``."""

import sys

from backup2gitops.cli import console

sys.exit(console())
