"""Hypervisor host preparation (packages, libvirt config, daemons, virt type probe)."""
