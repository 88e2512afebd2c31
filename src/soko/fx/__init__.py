"""Cross-border FX: rates and rate files, corridors, quotes and the legs of a conversion."""
