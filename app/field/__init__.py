"""The wardens' field app: the phone page /m, the public tip-off page, their demo grids."""
