"""`info`, `system check/df/reset/migrate`, `unshare` and the events log."""
