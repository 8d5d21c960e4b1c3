"""Devices: the registry, the DHCP lease and neighbour-table parsers, and syncing the registry from them."""
