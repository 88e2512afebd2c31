"""Money in by M-Pesa: STK push deposits, C2B payments at a paybill or till, reversals, and the
organisation statement's reconciliation against the ledger."""
