//go:build tools

// Package tools pins the Prometheus server built by ../build.sh.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
)
