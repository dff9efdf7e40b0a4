"""Network services: guest networks, offerings, IP allocation, firewall/NAT/LB rules, security groups, routers."""
