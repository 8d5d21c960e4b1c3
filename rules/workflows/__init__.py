"""What people do in the admin web: access requests, content reports, accounts, catalogue changes, form URLs."""
