"""The PBX simulator: a stand-in for Asterisk speaking real AMI, apart from the product code."""
