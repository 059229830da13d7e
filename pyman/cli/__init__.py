"""The command line: parses flags, calls the engine, renders output. No business logic."""
