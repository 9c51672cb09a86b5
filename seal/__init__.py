"""Electronic seals: GB/T 38540 structures (SESeal, SES_Signature), seal pictures and PDF sealing (PAdES)."""

from trust.crypto import quiet

quiet.pyhanko_dsa_import()  # before any module of this package imports pyhanko.sign
