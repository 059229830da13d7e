"""Network modes at create and user-defined networks of containers."""
