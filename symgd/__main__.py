"""``python -m symgd``: the command line."""
import sys

from symgd.cli import main

sys.exit(main())
