"""CloudStack's plugins a sandbox user meets: metrics, quota, dedicated resources, the simulator's mocks, API
rate limits, management server maintenance."""
