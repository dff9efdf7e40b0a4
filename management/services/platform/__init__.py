"""Platform services: usage records and alerts."""
