"""Administrative divisions (GB/T 2260) and management grids (网格)."""
