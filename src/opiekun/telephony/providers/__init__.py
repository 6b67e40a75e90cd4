"""Phone providers: each module verifies its webhooks, turns them into CallEvents, and calls its API.

Pure translation plus HTTP clients; nothing here reads or writes the database."""
