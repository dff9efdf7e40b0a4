"""XenAPI driver for XCP-ng/XenServer pools (``driver``), its session layer (``session``) and an in-process
fake XAPI pool (``fake``) for tests and development: no real XAPI runs on this machine."""
