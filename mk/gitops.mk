# GitOps health checks: the Argo CD Lua script is tested by Debian's lua5.1 (the dialect
# Argo CD's gopher-lua speaks). Installed when missing and root; the tests skip without it.
.PHONY: lua
TEST_PREREQS += lua

lua:
	@command -v lua5.1 >/dev/null || { if [ "$$(id -u)" = 0 ]; then \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends lua5.1 >/dev/null 2>&1 \
	   || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends lua5.1 >/dev/null; }); \
	  else echo "lua: not root, the Argo CD health tests will skip (need lua5.1)" >&2; fi; }
