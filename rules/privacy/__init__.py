"""What schoolgate holds about one person, and erasing it: subject access and erasure under UK GDPR.

`subject` finds the person's rows and the strings that identify them (`terms`); `holdings` gathers what is
held and `export` writes it as JSON and HTML; `erasure` removes or anonymises it in one transaction, ending
with `scrub`, a walk of every text column of every table; `files` covers the weekly reports and earlier
exports under the state folder. `schoolgate data` and the headteacher's Personal data page both call
`export` and `erasure`. Deleting data for age is not here: that is `rules.jobs.retention`.

Nothing is re-exported here: callers import from the module.
"""
