"""Infrastructure services: zones, pods, clusters, hosts and their drivers, host monitor, capacity, KVM."""
