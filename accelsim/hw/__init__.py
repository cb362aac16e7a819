"""Hardware blocks: one module per block, each with pure timing functions and a SimPy-facing API."""
