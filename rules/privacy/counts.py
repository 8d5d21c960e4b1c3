"""The counts an export or an erasure reports, in words for the operator and the headteacher."""

from __future__ import annotations

from typing import Any

LABELS = {"accounts": ("staff account", "staff accounts"), "devices": ("device", "devices"),
          "access_events": ("access event", "access events"), "bans": ("ban", "bans"),
          "access_events_naming_them": ("other device's access event naming them",
                                        "other devices' access events naming them"),
          "supervised_sessions": ("supervised session", "supervised sessions"),
          "supervision_given": ("supervised session they gave", "supervised sessions they gave"),
          "access_requests": ("access request", "access requests"),
          "content_reports": ("content report", "content reports"),
          "concerns": ("safeguarding concern", "safeguarding concerns"),
          "pupils": ("pupil record", "pupil records"), "consent_records": ("consent record", "consent records"),
          "consent_given": ("consent record they gave", "consent records they gave"),
          "posts_written": ("post they submitted", "posts they submitted"),
          "site_forms": ("site creation form", "site creation forms"),
          "school_account_roles": ("school account role", "school account roles"),
          "abuse_log": ("abuse log entry", "abuse log entries"),
          "records": ("request, report or supervised session", "requests, reports or supervised sessions"),
          "audit_evidence": ("audit entry's evidence", "audit entries' evidence"),
          "audit_entries": ("audit entry", "audit entries"),
          "report_files": ("report file", "report files"), "export_files": ("earlier export", "earlier exports"),
          "spooled_events": ("access event waiting in the spool", "access events waiting in the spool")}


def describe(counts: dict[str, Any]) -> str:
    """"5 access events, 1 ban, ...", in the order given; anything not a count (the per-table rewrites) left out."""
    return ", ".join(f"{n} {LABELS[name][n != 1]}" for name, n in counts.items() if name in LABELS)
