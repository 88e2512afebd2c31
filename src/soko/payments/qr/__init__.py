"""EMVCo merchant-presented QR codes."""
