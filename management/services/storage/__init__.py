"""Storage services: volumes, volume snapshots, templates and ISOs on image stores."""
