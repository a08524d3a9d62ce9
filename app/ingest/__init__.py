"""Bulk import of located rows from GIS files and spreadsheets (批量导入)."""
