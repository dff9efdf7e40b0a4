"""Platform commands: API discovery, async jobs, events, tags, configuration settings."""
