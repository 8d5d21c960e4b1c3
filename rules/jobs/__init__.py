"""The scheduler's jobs, one job a module, each a plain function of the database and its settings, testable alone.

`deploy.scheduler` runs them on a timetable in one process only, so each runs once. A job that changes
what is filtered bumps the policy version in the same transaction, which is how DNS and the proxy learn
about it (an exception that expired at 15:00 stops applying at the next compile, not at the next restart).

- `expiry`: exceptions and supervised sessions whose time is up, bans whose end passed;
- `retention`: deleting personal data past its retention period (access events, closed bans, audit entries,
  person filters in audit entries, report and export files);
- `devices_sync`: the device registry from DHCP leases and the neighbour table;
- `lists_refresh`: re-reading list sources from their files and URLs;
- `report`: the weekly report; `selftest`: the nightly check that what must be blocked is.

Nothing is re-exported here: callers import from the job's module.
"""
