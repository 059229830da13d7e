"""Volumes: create, list, inspect, remove, prune, export and import."""
