"""A school's name (`[site] name`) and the default school, without the database.

Kept apart from `rules.sites` so that reading the configuration (every command, `schoolgate check` on its fast
path) imports no SQLAlchemy.
"""

from __future__ import annotations

import re

DEFAULT_SITE = "default"
DEFAULT_SITE_ID = 1  # made by migration 0009; rows written before sites existed belong to it
SITE_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
