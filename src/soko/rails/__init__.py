"""Payment rails: adapters to outside money networks (M-Pesa first), and their local sandboxes."""
