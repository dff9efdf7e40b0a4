"""Identity commands: domains, accounts, users, API keys, roles."""
