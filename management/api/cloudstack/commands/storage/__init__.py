"""Storage commands: volumes, snapshots, primary storage pools, image stores, templates, ISOs."""
