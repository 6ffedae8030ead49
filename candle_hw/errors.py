"""Errors that reach the user as one line naming the node/layer and the value (exit code 2)."""
from __future__ import annotations


class UserError(ValueError):
    """Bad input (model, folding, option): printed as one line by the CLI, exit code 2."""
