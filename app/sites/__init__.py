"""Enterprises, major hazard sources, public zones and emergency resources."""
