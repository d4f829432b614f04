"""Video visits from the bed (issue 17): Janus VideoRoom rooms and tokens, coturn credentials,
the visit lifecycle and its audit. Media never pass through Python (docs/video.md)."""
