"""The AMI link: the frame decoder, the narrowed panoramisk protocol, the supervised session."""
