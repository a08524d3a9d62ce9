"""GeoJSON features and OGC API – Features (Part 1: Core) over the map layers."""
