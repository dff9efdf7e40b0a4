"""Compute commands: virtual machines, SSH key pairs, consoles, service and disk offerings."""
