"""The shape flags of one generated step (``--phase``, ``--batch``, ``--context``, ``--seq-len``,
``--layers``, ``--tp``, ``--attention``): flags that do not apply are errors, never ignored.

The parsers give these flags ``default=None``; ``resolve_step`` fills the real defaults once it
knows which apply: ``--context`` belongs to decode, ``--seq-len`` to prefill, and with a trace or
topology file (``simulate --trace/--topology``) none of them applies.
"""

from __future__ import annotations

import argparse

from ..errors import ConfigError

#: flag -> (attribute, default)
STEP_FLAGS = {"--phase": ("phase", "decode"), "--batch": ("batch", 1),
              "--context": ("context", 2048), "--seq-len": ("seq_len", 512),
              "--layers": ("layers", None), "--tp": ("tp", 1), "--attention": ("attention", "fused")}


def add_step_flags(p: argparse.ArgumentParser, *, context: int = 2048, seq_len: int = 512,
                   note: str = "") -> None:
    """Add the step flags to a parser (defaults resolved later by ``resolve_step``)."""
    p.add_argument("--phase", choices=("prefill", "decode"), default=None,
                   help=f"{note}the step to generate (default decode)")
    p.add_argument("--batch", type=int, default=None, help=f"{note}sequences in the batch (default 1)")
    p.add_argument("--context", type=int, default=None,
                   help=f"{note}decode only: KV-cache length per sequence incl. the new token "
                        f"(default {context})")
    p.add_argument("--seq-len", type=int, default=None,
                   help=f"{note}prefill only: prompt tokens per sequence (default {seq_len})")
    p.add_argument("--layers", type=int, default=None, help=f"{note}only the first N layers")
    p.add_argument("--tp", type=int, default=None, help=f"{note}tensor-parallel degree (default 1)")
    p.add_argument("--attention", choices=("fused", "unfused"), default=None,
                   help=f"{note}one fused attn row (default) or attn_score/attn_softmax/"
                        "attn_context rows")
    p.set_defaults(_step_defaults={"context": context, "seq_len": seq_len})


def resolve_step(args: argparse.Namespace, *, generated: bool = True,
                 source: str = "") -> None:
    """Reject step flags that do not apply, then fill the defaults of those that do.

    ``generated``: the command generates the step (else it reads ``source``, a trace or
    topology file, and no step flag applies).
    """
    given = [flag for flag, (attr, _) in STEP_FLAGS.items() if getattr(args, attr) is not None]
    if not generated:
        if given:
            verb = "shapes" if len(given) == 1 else "shape"
            raise ConfigError(f"{', '.join(given)} {verb} a generated step (--model); "
                              f"{source or 'a trace file'} already fixes the shape",
                              key=given[0])
        return
    defaults = {attr: default for attr, default in STEP_FLAGS.values()}
    defaults.update(getattr(args, "_step_defaults", {}))
    resolve_phase_flags(args, context=defaults.pop("context"), seq_len=defaults.pop("seq_len"))
    for attr, default in defaults.items():
        if getattr(args, attr, None) is None:
            setattr(args, attr, default)


def resolve_phase_flags(args: argparse.Namespace, *, context: int, seq_len: int) -> None:
    """``--context`` belongs to decode and ``--seq-len`` to prefill: the other is an error; the
    one that applies gets its default when not given (both parser defaults are ``None``)."""
    phase = args.phase or "decode"
    if phase == "prefill" and args.context is not None:
        raise ConfigError(f"--context applies to --phase decode; a prefill step takes --seq-len "
                          f"(got --context {args.context})", key="--context")
    if phase == "decode" and args.seq_len is not None:
        raise ConfigError(f"--seq-len applies to --phase prefill; a decode step takes --context "
                          f"(got --seq-len {args.seq_len})", key="--seq-len")
    args.phase = phase
    args.context = context if args.context is None else args.context
    args.seq_len = seq_len if args.seq_len is None else args.seq_len
