"""The hospital's domain: sites, wards, beds, stays, lines, terminals, staff and audit."""
