"""The operator command line (Typer)."""
