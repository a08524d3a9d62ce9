"""What every map product of RiskAtlas draws alike: the four colours and their names."""

LEVEL_NAMES_ZH = {"red": "重大风险", "orange": "较大风险", "yellow": "一般风险", "blue": "低风险"}
LEVEL_COLOURS = {"red": "#e8222d", "orange": "#f5891f", "yellow": "#f7d117", "blue": "#2f6fd6"}
NO_LEVEL_COLOUR = "#d9dde3"
