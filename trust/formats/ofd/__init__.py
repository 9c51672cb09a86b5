"""GB/T 33190-2016 OFD (Open Fixed-layout Document) packages, the format of GB/T 36905 electronic licence files,
with GB/T 38540 seal signatures (GB/T 33190 clause 18).

* :mod:`trust.formats.ofd.package` — the ZIP container, read as hostile input (zip bombs, traversal, ambiguous names
  refused), and written deterministically;
* :mod:`trust.formats.ofd.xml` — the XML of a package, parsed without DTDs, entities or network;
* :mod:`trust.formats.ofd.document` — ``OFD.xml``, ``Document.xml``, pages, resources, attachments;
* :mod:`trust.formats.ofd.signatures` — ``Signatures.xml``, ``Signature.xml``, references and their SM3 digests.

Verification lives in :mod:`verifier.ofd`, sealing in :mod:`seal.ofd`, licence files in :mod:`licenses.ofd`.
Pure format code: no storage, no network.
"""
