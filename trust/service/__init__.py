"""The national root's operations: the composition of CA, seals, licences and trust list over storage.

The HTTP app and the CLI call these functions and hold no logic of their own.
"""
