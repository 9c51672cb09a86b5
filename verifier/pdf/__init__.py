"""Sealed PDFs verified offline (PAdES, ISO 32000-2 clause 12.8; ETSI EN 319 142-1), one module per concern.

* :mod:`verifier.pdf.verify` — :func:`~verifier.pdf.verify.verify_pdf`: the document report, one child per signature
  and document time-stamp, the checks in order and the bottom line;
* :mod:`verifier.pdf.document` — opening the PDF (size limits, pyHanko reader, hostile-input errors), signature fields;
* :mod:`verifier.pdf.strings` — linear-time readers of PDF strings and names;
* :mod:`verifier.pdf.coverage` — what ``/ByteRange`` covers (ISO 32000-2 clause 12.8.1);
* :mod:`verifier.pdf.cms` — the CMS object in ``/Contents`` and its RFC 3161 time-stamps;
* :mod:`verifier.pdf.seal` — the GB/T 38540 seal a Huren PDF signature carries;
* :mod:`verifier.pdf.changes` — what later revisions changed (modification detection).
"""
