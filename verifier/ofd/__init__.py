"""Offline verification of OFD documents (GB/T 33190-2016) and their signatures (clause 18; GB/T 38540 seals).

:func:`verifier.ofd.verify.verify_ofd` ``(data, ctx) -> Report`` — kind ``ofd`` with one child per signature (kind
``ofd-signature``), the worst child as the bottom line, as for sealed PDFs. Unreadable or unsafe packages raise
:class:`~trust.crypto.errors.InputError` (``E1700``/``E1701``/``E1002``); anything a signature does wrong is its report.

Imports only :mod:`trust.crypto`, :mod:`trust.formats` (the OFD format and GB/T 38540 structures) and the verifier.
"""
