"""`python -m alertd` is the same as the `alertd` console script."""

from alertd.cli import main

raise SystemExit(main())
