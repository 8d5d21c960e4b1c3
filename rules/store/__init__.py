"""What is stored and how: the database, the models, the schema and its migrations, the audit log, access events."""
