"""Experiments whose conclusions the docs record, kept to reproduce their tables.

Not part of the pipeline: nothing in ``training`` imports them except ``vitrina-train
compare`` (``recipes``). Each module's docstring holds the command that rebuilds its table.
"""
