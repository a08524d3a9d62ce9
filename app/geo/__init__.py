"""Pure geodesy: Chinese obfuscated datums, projections, tiling. No web, no database."""
