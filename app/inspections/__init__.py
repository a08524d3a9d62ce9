"""Inspections: enterprise self-checks, government spot checks, grid wardens' checks."""
