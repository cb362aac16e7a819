"""Packet-granular mesh NoC kernel (numba): the hot loop behind ``accelsim noctest``.

One call simulates a whole trace of packets on a k x l mesh of input-queued routers. The unit of
work is a *packet allocation*: at each router a packet wins its output port once and then holds
the output link and its input crossbar port for ``flits`` cycles (wormhole / virtual cut-through
serialization). Nothing is done per flit; the loop advances cycle by cycle only while packets are
in the routers and jumps over idle stretches.

Mechanisms (see ``docs/noc.md``):

* router pipeline of ``router_cycles`` stages: the last two are switch allocation (SA) and switch
  traversal (ST); VC allocation (VA) is the stage before SA; earlier stages are routing;
* a packet must win a free virtual channel (VC) at the next router's input port before it may bid
  for the switch (credit flow control; a VC is returned ``credit_delay`` cycles after the tail
  leaves, i.e. BookSim's ``wait_for_tail_credit``);
* switch allocation is iSLIP over the 5x5 port matrix with ``alloc_iters`` iterations; an input
  port with several waiting packets bids for every output one of them wants (no head-of-line
  blocking between VCs) and sends the oldest packet for the output it is matched to;
* speedup 1: an input port feeds one flit per cycle into the crossbar and an output link carries
  one flit per cycle, so a packet of P flits holds both for P cycles;
* the network interface injects one packet at a time over an injection channel of one flit per
  cycle (FIFO source queue, infinite), and ejection is one flit per cycle.

Ports: 0 local (injection input / ejection output), 1 east (+x), 2 west (-x), 3 north (+y),
4 south (-y). An input port is named by the side the packet enters from, so a packet sent out of
port east arrives on the neighbour's port west. Node id = y * columns + x.

# NOTE(perf): this module exists for speed; ``scripts/bench_noc.py`` measures it (flit-hops/s).
"""

from __future__ import annotations

import numpy as np
from numba import njit

PORT_LOCAL, PORT_EAST, PORT_WEST, PORT_NORTH, PORT_SOUTH = 0, 1, 2, 3, 4
NUM_PORTS = 5
_NEVER = np.int64(1) << np.int64(60)


@njit(cache=True)
def xy_output_port(columns, cur, dst):
    """Output port that dimension-order (X then Y) routing takes at router ``cur`` for ``dst``."""
    cx = cur % columns
    cy = cur // columns
    dx = dst % columns
    dy = dst // columns
    if dx > cx:
        return 1
    if dx < cx:
        return 2
    if dy > cy:
        return 3
    if dy < cy:
        return 4
    return 0


@njit(cache=True)
def _downstream(columns, r, o):
    """(router, input port) that output ``o`` of router ``r`` feeds."""
    if o == 1:
        return r + 1, 2
    if o == 2:
        return r - 1, 1
    if o == 3:
        return r + columns, 4
    return r - columns, 3


@njit(cache=True)
def simulate_mesh_kernel(columns, rows, router_cycles, link_cycles, injection_cycles,
                         ejection_cycles, ni_cycles, credit_delay_cycles, num_vcs,
                         vc_buffer_flits, alloc_iters, interleave_flits,
                         pk_src, pk_dst, pk_ctime, pk_flits, node_start,
                         measure_start, measure_end, t_end):
    """Simulate a packet trace on the mesh; pure function of its arguments (deterministic).

    Args:
        columns, rows: mesh size; node id = y * columns + x.
        router_cycles, link_cycles, injection_cycles, ejection_cycles, ni_cycles,
        credit_delay_cycles: pipeline and wire delays in router clock cycles.
        num_vcs, vc_buffer_flits: virtual channels per input port and flits each buffers.
        alloc_iters: iSLIP iterations of the switch allocator.
        interleave_flits: flits a VC sends per switch grant (the allocation *chunk*): 1 models
            BookSim's flit-by-flit VC interleaving, >= packet size makes packets atomic.
        pk_src, pk_dst, pk_ctime, pk_flits: packets sorted by (source, creation cycle).
        node_start: int64[nodes + 1]; packets of node n are ``node_start[n]:node_start[n+1]``.
        measure_start, measure_end: creation-time window of the measured packets; link busy
            flits and ejected flits are counted for grants inside it.
        t_end: hard stop (cycle); the run also stops once every measured packet is delivered.

    Returns:
        (done_cycle, inject_cycle, hops, link_busy_flits, ejected_flits_window, t_stop):
        ``done_cycle[i]`` is the cycle the tail of packet i leaves the ejection channel (-1 if not
        delivered), ``inject_cycle[i]`` the cycle its head entered the injection channel (-1 if
        never), ``hops`` the router-to-router links it crossed, ``link_busy_flits[node, port]``
        the flits sent out of each output port (port 0 = ejection) during the window,
        ``ejected_flits_window`` the flits ejected during the window, ``t_stop`` the last cycle.
    """
    n_nodes = columns * rows
    n_pk = pk_src.shape[0]
    va_offset = router_cycles - 3 if router_cycles > 3 else 0
    sa_after_va = 1 if router_cycles >= 3 else 0
    sa_offset = va_offset + sa_after_va
    post_sa = 2 if router_cycles >= 2 else 1
    max_chunks = 1
    for i in range(n_pk):
        c = (pk_flits[i] + interleave_flits - 1) // interleave_flits
        if c > max_chunks:
            max_chunks = c

    done = np.full(n_pk, -1, np.int64)
    injected = np.full(n_pk, -1, np.int64)
    hops = np.zeros(n_pk, np.int32)

    # per input VC: the packet it holds (one at a time: the tail credit frees it) and its chunks
    vc_pk = np.full((n_nodes, NUM_PORTS, num_vcs), -1, np.int64)
    vc_arr = np.zeros((n_nodes, NUM_PORTS, num_vcs, max_chunks), np.int64)
    vc_recv = np.zeros((n_nodes, NUM_PORTS, num_vcs), np.int32)
    vc_sent = np.zeros((n_nodes, NUM_PORTS, num_vcs), np.int32)
    vc_flits_in = np.zeros((n_nodes, NUM_PORTS, num_vcs), np.int32)
    vc_out = np.zeros((n_nodes, NUM_PORTS, num_vcs), np.int8)
    vc_next = np.full((n_nodes, NUM_PORTS, num_vcs), -1, np.int32)
    vc_va_ready = np.zeros((n_nodes, NUM_PORTS, num_vcs), np.int64)
    vc_sa_ready = np.zeros((n_nodes, NUM_PORTS, num_vcs), np.int64)
    vc_free_at = np.zeros((n_nodes, NUM_PORTS, num_vcs), np.int64)
    router_n = np.zeros(n_nodes, np.int32)
    port_n = np.zeros((n_nodes, NUM_PORTS), np.int32)   # occupied VCs per input port
    va_wait = np.zeros(n_nodes, np.int32)               # VCs whose head still needs VA
    out_free_at = np.zeros((n_nodes, NUM_PORTS), np.int64)
    in_free_at = np.zeros((n_nodes, NUM_PORTS), np.int64)
    grant_ptr = np.zeros((n_nodes, NUM_PORTS), np.int32)
    accept_ptr = np.zeros((n_nodes, NUM_PORTS), np.int32)
    vc_rr = np.zeros((n_nodes, NUM_PORTS), np.int32)
    inj_free_at = np.zeros(n_nodes, np.int64)
    next_pk = node_start[:-1].copy()
    link_busy = np.zeros((n_nodes, NUM_PORTS), np.int64)
    ejected_window = np.int64(0)

    measured_left = 0
    for i in range(n_pk):
        if pk_ctime[i] >= measure_start and pk_ctime[i] < measure_end:
            measured_left += 1

    req = np.zeros((NUM_PORTS, NUM_PORTS), np.bool_)
    cand = np.full((NUM_PORTS, NUM_PORTS), -1, np.int32)
    grant = np.full(NUM_PORTS, -1, np.int32)
    in_match = np.full(NUM_PORTS, -1, np.int32)
    out_match = np.full(NUM_PORTS, -1, np.int32)

    in_network = 0
    t = np.int64(0)
    while t < t_end and measured_left > 0:
        # ---- network interfaces: FIFO source queue -> injection channel -> local input port
        for n in range(n_nodes):
            k = next_pk[n]
            if k >= node_start[n + 1] or inj_free_at[n] > t or pk_ctime[k] + ni_cycles > t:
                continue
            v = -1
            for w in range(num_vcs):
                if vc_pk[n, 0, w] < 0 and vc_free_at[n, 0, w] <= t:
                    v = w
                    break
            if v < 0:
                continue
            nfl = pk_flits[k]
            next_pk[n] = k + 1
            injected[k] = t
            inj_free_at[n] = t + nfl
            nch = (nfl + interleave_flits - 1) // interleave_flits
            for j in range(nch):
                vc_arr[n, 0, v, j] = t + j * interleave_flits + injection_cycles
            vc_pk[n, 0, v] = k
            vc_recv[n, 0, v] = nch
            vc_sent[n, 0, v] = 0
            vc_flits_in[n, 0, v] = nfl
            vc_out[n, 0, v] = xy_output_port(columns, n, pk_dst[k])
            vc_next[n, 0, v] = -1
            vc_va_ready[n, 0, v] = t + injection_cycles + va_offset
            vc_sa_ready[n, 0, v] = _NEVER
            router_n[n] += 1
            port_n[n, 0] += 1
            va_wait[n] += 1
            in_network += 1

        # ---- routers
        for r in range(n_nodes):
            if router_n[r] == 0:
                continue
            # VC allocation: a head chunk wins a free VC at the next router's input port
            # NOTE(perf): skipped when no head waits for VA (scripts/bench_noc.py)
            for p in range(NUM_PORTS):
                if va_wait[r] == 0:
                    break
                if port_n[r, p] == 0:
                    continue
                for v in range(num_vcs):
                    if vc_pk[r, p, v] < 0 or vc_next[r, p, v] >= 0 or vc_va_ready[r, p, v] > t:
                        continue
                    o = vc_out[r, p, v]
                    if o == 0:
                        vc_next[r, p, v] = 0
                        vc_sa_ready[r, p, v] = t + sa_after_va
                        va_wait[r] -= 1
                        continue
                    r2, p2 = _downstream(columns, r, o)
                    for w in range(num_vcs):
                        if vc_pk[r2, p2, w] < 0 and vc_free_at[r2, p2, w] <= t:
                            vc_free_at[r2, p2, w] = _NEVER   # reserved until its tail leaves
                            vc_next[r, p, v] = w
                            vc_sa_ready[r, p, v] = t + sa_after_va
                            va_wait[r] -= 1
                            break
            # switch allocation requests: per input port, round-robin over its VCs
            any_req = False
            for p in range(NUM_PORTS):
                for o in range(NUM_PORTS):
                    req[p, o] = False
                if in_free_at[r, p] > t or port_n[r, p] == 0:
                    continue
                seen = 0
                for j in range(num_vcs):
                    if seen == port_n[r, p]:
                        break
                    v = (vc_rr[r, p] + j) % num_vcs
                    if vc_pk[r, p, v] < 0:
                        continue
                    seen += 1
                    if vc_sa_ready[r, p, v] > t:
                        continue
                    s = vc_sent[r, p, v]
                    if s >= vc_recv[r, p, v] or vc_arr[r, p, v, s] + sa_offset > t:
                        continue
                    o = vc_out[r, p, v]
                    if req[p, o] or out_free_at[r, o] > t:
                        continue
                    if o != 0:
                        r2, p2 = _downstream(columns, r, o)
                        k = vc_pk[r, p, v]
                        cf = min(interleave_flits, pk_flits[k] - s * interleave_flits)
                        if vc_flits_in[r2, p2, vc_next[r, p, v]] + cf > vc_buffer_flits:
                            continue
                    req[p, o] = True
                    cand[p, o] = v
                    any_req = True
            if not any_req:
                continue
            # iSLIP over the 5x5 port matrix
            for p in range(NUM_PORTS):
                in_match[p] = -1
                out_match[p] = -1
            for it in range(alloc_iters):
                for o in range(NUM_PORTS):
                    grant[o] = -1
                    if out_match[o] >= 0:
                        continue
                    for j in range(NUM_PORTS):
                        p = (grant_ptr[r, o] + j) % NUM_PORTS
                        if in_match[p] < 0 and req[p, o]:
                            grant[o] = p
                            break
                for p in range(NUM_PORTS):
                    if in_match[p] >= 0:
                        continue
                    for j in range(NUM_PORTS):
                        o = (accept_ptr[r, p] + j) % NUM_PORTS
                        if grant[o] == p:
                            in_match[p] = o
                            out_match[o] = p
                            if it == 0:
                                grant_ptr[r, o] = (p + 1) % NUM_PORTS
                                accept_ptr[r, p] = (o + 1) % NUM_PORTS
                            break
            # switch traversal: each winner sends one chunk
            for p in range(NUM_PORTS):
                o = in_match[p]
                if o < 0:
                    continue
                v = cand[p, o]
                k = vc_pk[r, p, v]
                s = vc_sent[r, p, v]
                nfl = pk_flits[k]
                nch = (nfl + interleave_flits - 1) // interleave_flits
                cf = min(interleave_flits, nfl - s * interleave_flits)
                vc_rr[r, p] = (v + 1) % num_vcs
                out_free_at[r, o] = t + cf
                in_free_at[r, p] = t + cf
                vc_sent[r, p, v] = s + 1
                vc_flits_in[r, p, v] -= cf
                in_window = t >= measure_start and t < measure_end
                if in_window:
                    link_busy[r, o] += cf
                last = s + 1 == nch
                if o == 0:
                    if in_window:
                        ejected_window += cf
                    if last:
                        done[k] = t + post_sa + ejection_cycles + cf - 1
                        in_network -= 1
                        if pk_ctime[k] >= measure_start and pk_ctime[k] < measure_end:
                            measured_left -= 1
                else:
                    r2, p2 = _downstream(columns, r, o)
                    w = vc_next[r, p, v]
                    arrival = t + post_sa + link_cycles
                    if s == 0:
                        hops[k] += 1
                        vc_pk[r2, p2, w] = k
                        vc_recv[r2, p2, w] = 0
                        vc_sent[r2, p2, w] = 0
                        vc_flits_in[r2, p2, w] = 0
                        vc_out[r2, p2, w] = xy_output_port(columns, r2, pk_dst[k])
                        vc_next[r2, p2, w] = -1
                        vc_va_ready[r2, p2, w] = arrival + va_offset
                        vc_sa_ready[r2, p2, w] = _NEVER
                        router_n[r2] += 1
                        port_n[r2, p2] += 1
                        va_wait[r2] += 1
                    vc_arr[r2, p2, w, s] = arrival
                    vc_recv[r2, p2, w] += 1
                    vc_flits_in[r2, p2, w] += cf
                if last:
                    # tail gone: the VC returns to the upstream router after the credit delay
                    vc_pk[r, p, v] = -1
                    vc_free_at[r, p, v] = t + cf - 1 + credit_delay_cycles
                    router_n[r] -= 1
                    port_n[r, p] -= 1

        # ---- advance time; jump over idle stretches
        if in_network > 0:
            t += 1
        else:
            t_next = _NEVER
            for n in range(n_nodes):
                k = next_pk[n]
                if k < node_start[n + 1]:
                    tn = max(pk_ctime[k] + ni_cycles, inj_free_at[n])
                    if tn < t_next:
                        t_next = tn
            t = max(t + 1, t_next)
    return done, injected, hops, link_busy, ejected_window, t
