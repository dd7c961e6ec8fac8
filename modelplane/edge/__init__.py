"""The HTTP edge the model server and the router share: raw ASGI building blocks.

`asgi` reads a request body under a size limit and sends a response, and runs the lifespan
protocol; `encoding` undoes and applies content codings; `errors` is what reading a body can
raise; `limits` bounds request heads (size, time to arrive) and connections per worker;
`keepalive` is how long idle connections stay open (longer than a proxy's in front);
`v2` holds the Open Inference Protocol's header names. Each part maps the errors into its
own tree at its edge.
"""
