"""Registers out: every list exported as XLSX or CSV with the caller's filters and scope."""
