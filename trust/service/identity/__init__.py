"""Federated identity (issue 16): the national trust anchor (:mod:`.anchor`), the regional OpenID Providers
(:mod:`.op`) and their tables (:mod:`.models`)."""
