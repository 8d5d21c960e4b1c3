"""The `schoolgate` command: configuration, wiring of the services, and the gateway's files."""
