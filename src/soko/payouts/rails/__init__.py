"""The rails payouts go through."""
