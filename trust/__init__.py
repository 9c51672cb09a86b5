"""Huren (互认): the national trust root and its composition.

Layers, bottom to top (``docs/ARCHITECTURE.md``): ``trust.crypto`` (algorithms, keys, signer interface, OIDs,
errors) → ``trust.formats`` (pure formats: JOSE, trust list, bundle) → ``ca`` → ``seal`` → ``licenses`` →
``verifier`` → ``trust.db``/``trust.settings`` → ``trust.service`` (the root's operations) → ``trust.http`` and
``trust.cli`` (thin interfaces). This package's ``__init__`` imports nothing so each layer stays separable.
"""

__version__ = "0.1.0"
