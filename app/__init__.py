"""RiskAtlas: regional safety-risk four-colour map service."""
