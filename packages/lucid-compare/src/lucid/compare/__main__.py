"""``python -m lucid.compare``: the ``lucid-compare`` command."""

from .cli import main

raise SystemExit(main())
