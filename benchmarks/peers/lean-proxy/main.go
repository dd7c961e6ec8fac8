// A bare HTTP/1.1 pass-through on a lean compiled stack (fasthttp): the Go counterpart of
// the Python floor in `make bench-router` (benchmarks/router_servers.py floor). It forwards
// each POST body to one upstream URL on a pooled keep-alive connection and answers with the
// upstream's status, content type and body; GET answers 200 {}. Nothing else: no graph, no
// headers, no metrics.
//
//	lean-proxy LISTEN_ADDR UPSTREAM_URL     # e.g. 127.0.0.1:9000 http://127.0.0.1:8080/v2/models/m/infer
package main

import (
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/valyala/fasthttp"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: lean-proxy LISTEN_ADDR UPSTREAM_URL")
		os.Exit(2)
	}
	target, err := url.Parse(os.Args[2])
	if err != nil || target.Scheme != "http" || target.Host == "" {
		fmt.Fprintf(os.Stderr, "lean-proxy: want an http:// upstream URL, not %q\n", os.Args[2])
		os.Exit(2)
	}
	client := &fasthttp.HostClient{Addr: target.Host, MaxConns: 64}
	path := target.RequestURI()
	handler := func(ctx *fasthttp.RequestCtx) {
		if !ctx.IsPost() {
			ctx.SetContentType("application/json")
			ctx.SetBodyString("{}")
			return
		}
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod(fasthttp.MethodPost)
		req.SetRequestURI(path)
		req.Header.SetHost(target.Host)
		req.Header.SetContentType("application/json")
		req.SetBody(ctx.PostBody())
		if err := client.DoTimeout(req, resp, 60*time.Second); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
			return
		}
		ctx.SetStatusCode(resp.StatusCode())
		ctx.Response.Header.SetContentTypeBytes(resp.Header.ContentType())
		ctx.SetBody(resp.Body())
	}
	if err := fasthttp.ListenAndServe(os.Args[1], handler); err != nil {
		fmt.Fprintln(os.Stderr, "lean-proxy:", err)
		os.Exit(1)
	}
}
