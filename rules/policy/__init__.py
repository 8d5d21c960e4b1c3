"""The decision and what it reads: host names, the matcher, the snapshot, its compiler and the catalogue.

DNS and the proxy import from here on their hot path; nothing here may import Alembic, argon2 or a web
framework (`schoolgate check` stays fast).
"""
