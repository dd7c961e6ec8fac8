"""`python -m modelplane` runs the command line."""

from modelplane.cli import main

raise SystemExit(main())
