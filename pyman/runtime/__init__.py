"""OCI runtime: config.json generation (spec, users, bundle), runc/crun detection and driver.

Nothing is imported here: the monitor imports single modules and pays only for those.
"""
