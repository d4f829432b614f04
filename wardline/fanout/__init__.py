"""Several instances of the service, one hospital: domain events between instances through
PostgreSQL LISTEN/NOTIFY (:mod:`wardline.fanout.bridge`, its codec in
:mod:`wardline.fanout.codec`) and the switchboard's call claims held in the database
(:mod:`wardline.fanout.claims`)."""
