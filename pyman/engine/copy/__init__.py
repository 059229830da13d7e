"""cp: between host and containers, and tar streams on stdin/stdout."""
