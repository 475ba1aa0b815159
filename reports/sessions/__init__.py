"""The report of a `bench sessions` folder (sessions.json)."""
