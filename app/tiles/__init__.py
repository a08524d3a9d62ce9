"""Vector tiles (ST_AsMVT) with server-side aggregation at low zooms and a versioned cache."""
