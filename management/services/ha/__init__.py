"""Host HA (investigate, fence, mark Down) and VM HA (restart HA VMs elsewhere, or after a crash)."""
