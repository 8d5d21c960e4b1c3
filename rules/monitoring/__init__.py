"""Circumvention: the detector, the watcher that acts on its verdicts, bans and the headteacher's notice."""
