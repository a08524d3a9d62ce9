"""Statutory tables sent upward (报送): the monthly 五个一批, quarterly and yearly
hidden-danger statistics, and the red/orange risk bulletin (预警)."""
