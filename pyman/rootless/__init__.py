"""Rootless plumbing: sub-id ranges, user namespaces, and the syscalls Python lacks."""
