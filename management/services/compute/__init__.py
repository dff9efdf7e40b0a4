"""Compute services: virtual machine lifecycle, VM state sync and expunge, SSH key pairs, service and disk offerings."""
