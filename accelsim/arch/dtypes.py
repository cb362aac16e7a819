"""Datatypes and their sizes in bytes."""

DTYPE_BYTES = {"int4": 0.5, "int8": 1, "fp8": 1, "fp16": 2, "bf16": 2, "fp32": 4, "int32": 4}
DTYPES = tuple(DTYPE_BYTES)


def dtype_bytes(dtype: str) -> float:
    """Bytes per element of ``dtype`` (``int4`` is half a byte)."""
    return DTYPE_BYTES[dtype]
