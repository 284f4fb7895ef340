"""Shim: ``python cli.py ...`` does exactly what ``python -m symgd ...`` does."""
import sys

from symgd.cli import main

if __name__ == "__main__":
    sys.exit(main())
