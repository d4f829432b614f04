"""Bed lines: the AstDB keys a stay gives its bed, written as stays change and reconciled
after every (re)connect."""
