"""Setback and siting checks for proposed projects, chemical parks, saved reports."""
