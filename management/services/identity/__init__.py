"""Identity services: domains, accounts, users, API keys, roles and their permission rules."""
