"""Importing this package registers every command module with the registry."""

from management.api.cloudstack.commands import events, identity, jobs, meta, tags, zones  # noqa: F401
