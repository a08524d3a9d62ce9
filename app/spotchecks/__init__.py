"""Double-random spot checks (双随机抽查): reproducible draws of targets and inspectors."""
