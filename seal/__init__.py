"""Electronic seals: GB/T 38540 structures (SESeal, SES_Signature), seal pictures and PDF sealing (PAdES)."""
