"""Containers: their records, lifecycle through the monitor, exec, logs, inspect."""
