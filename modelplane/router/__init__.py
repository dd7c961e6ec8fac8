"""The InferenceGraph router: runs Sequence, Switch, Ensemble and Splitter nodes over V2 servers.

`graph` loads the resolved graph, `condition` is the path language, `select` and `chaining` are
the pure decisions, `executor` runs nodes, `upstream` and `transport` call servers, `app` is the
HTTP edge, `cli` is `modelplane router`. See docs/router.md.
"""
