"""Licence sharing (证照共享, issue 21): the national directory, citizens' consents and consented cross-region
retrieval (docs/SHARING.md)."""
