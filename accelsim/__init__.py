"""accelsim: a cycle-approximate simulator of AI accelerators for LLM inference."""

__version__ = "0.1.0"
