"""A local Citus cluster: a coordinator and N workers on loopback (issue 17, docs/scaling.md).

`riskatlas cluster up|down|status|env` builds Citus from the vendored source when the
extension is missing (build.py), runs the nodes (nodes.py) and sets up the same database
as `riskatlas setup` does on it; the migrations distribute the located tables when the
database has the citus extension (migrations/versions/0020_citus_distribution.py).
"""
