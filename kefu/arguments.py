"""Argument types shared by the ``kefu`` command's sub-commands."""

from __future__ import annotations

import argparse


def positive_int(value: str) -> int:
    """A whole number of at least 1, or a clear argparse error."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"'{value}' is not a whole number of at least 1")
    return int(value)
