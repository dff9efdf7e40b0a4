"""Infrastructure commands: zones, pods, clusters, hosts, capacity."""
