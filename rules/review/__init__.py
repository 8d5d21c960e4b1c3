"""The policy's "Monitoring and review": the next review date and its history (`policy_review`), the reminder
the headteacher sees and is mailed (`reminder`), and the annual review pack for the academy council (`pack`,
with every pupil's name taken out of its text by `redact`)."""
