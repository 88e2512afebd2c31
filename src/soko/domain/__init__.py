"""Pure business rules: money, the ledger, and the chart of accounts. No I/O, no clock."""
