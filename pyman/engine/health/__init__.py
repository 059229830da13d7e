"""Healthchecks: their config, runs, results and timers."""
