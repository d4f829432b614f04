"""The Asterisk configuration generated from the inventory (`wardline asterisk-config`)."""
