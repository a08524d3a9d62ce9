"""Nearby: what lies around a point (a warden on a phone, an incident), nearest first."""
