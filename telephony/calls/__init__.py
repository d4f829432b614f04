"""Live calls: the call picture fed by AMI events, the resync after a (re)connect, the
switchboard actions, the call records."""
