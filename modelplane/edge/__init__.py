"""The HTTP edge the model server and the router share.

`h1server` is their HTTP/1.1 server (whole requests in, whole answers out; `h1wire` writes
the bytes), and `h1threads` the same server on blocking sockets, a thread per connection (the
router's REST edge); `h1head` is what both decide from a request's head, `sockopts` a blocking
socket's kernel timeouts; `limit_settings` gives their limits (request heads, connections)
their flags;
`asgi` reads a request body under a size limit, sends a response, runs the lifespan protocol
and runs an ASGI app on one whole request (the model server's FastAPI endpoints); `encoding`
undoes and applies content codings; `errors` is what reading a body can raise; `keepalive`
is how long idle connections stay open (longer than a proxy's in front); `v2` holds the Open
Inference Protocol's header names. Each part maps the errors into its own tree at its edge.
"""
