"""Several management servers on one database: membership (heartbeats), ownership of hosts and periodic work,
and the takeover of a dead server's jobs."""
