"""Hidden dangers (事故隐患) and their closed loop."""
