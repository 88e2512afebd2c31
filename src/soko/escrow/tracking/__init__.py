"""Carriers, shipments and tracking events that move escrow orders."""
