"""`python -m app`: the same as the `vitrina` command."""

from app.cli import main

raise SystemExit(main())
