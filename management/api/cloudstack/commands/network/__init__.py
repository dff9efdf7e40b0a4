"""Network commands: networks, offerings, physical networks, public IPs, VLANs, rules, security groups, routers."""
