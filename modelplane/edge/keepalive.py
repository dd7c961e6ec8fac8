"""How long a server keeps an idle kept-alive connection: one fact for every HTTP server here.

A proxy in front (Traefik, a cloud load balancer, the router) pools idle connections to the
server and reuses them. When the server closes an idle connection as the proxy sends a
request on it, the request is lost: a POST is not retried, and the proxy answers an error
(Traefik, over Go's transport, answers 500 for "server closed idle connection" and 502 for an
EOF). So the server keeps idle connections longer than any proxy in front does, and the proxy
is always the side that closes them. Traefik's default is 90 s, AWS's ALB 60 s, Google's
load balancers 600 s; uvicorn's own default (5 s) is shorter than all of them.

No imports: the operator reads it for its activator too.
"""

KEEP_ALIVE_SECONDS = 620
"""Idle seconds before a server closes a connection with no request in progress."""
