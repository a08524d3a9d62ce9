"""Patrol leads (巡查线索) and public tip-offs (举报)."""
