"""Commands of a farm: management servers, host HA and out-of-band management."""
