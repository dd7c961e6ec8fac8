//go:build tools

// Package tools pins KServe's router command, built by ../kserve_router.sh.
package tools

import (
	_ "github.com/kserve/kserve/cmd/router"
)
