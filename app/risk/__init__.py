"""Risk grading (LEC, LS, direct rules, GB 18218) and four-colour aggregation."""
