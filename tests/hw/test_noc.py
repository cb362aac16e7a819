"""Unit tests of accelsim.hw.noc: routing, arithmetic, zero-load, contention, config, SimPy API."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import simpy
import yaml

from accelsim.cli import main as cli_main
from accelsim.errors import AccelsimError, ConfigError, UnknownImplError
from accelsim.hw.noc import (NOCS, IdealNoC, MeshConfig, MeshNoC, build_noc, channel_loads,
                             hop_count, ideal_saturation_rate, load_noc_config, mean_uniform_hops,
                             memory_controller_nodes, packet_flits, packet_latencies, parse_mesh,
                             route_loads, run_synthetic, serialization_cycles, traffic_matrix,
                             xy_route, zero_load_latency_cycles)
from accelsim.hw.noc_kernel import xy_output_port

BOOKSIM = MeshConfig(columns=4, rows=4)
ATOMIC = dataclasses.replace(BOOKSIM, interleave_flits=8)  # packets are never interleaved


# ---------------------------------------------------------------------------- routing
def test_xy_route_goes_x_first_then_y_and_ends_in_ejection():
    cfg = MeshConfig(columns=4, rows=3)
    # (0,0) -> (2,2): east, east, north, north, eject
    assert xy_route(cfg, 0, 10) == [(0, 1), (1, 1), (2, 3), (6, 3), (10, 0)]
    # (3,2) -> (1,0): west, west, south, south, eject
    assert xy_route(cfg, 11, 1) == [(11, 2), (10, 2), (9, 4), (5, 4), (1, 0)]
    assert xy_route(cfg, 5, 5) == [(5, 0)]


@pytest.mark.parametrize("src", range(12))
def test_route_length_is_manhattan_distance_and_kernel_agrees(src):
    cfg = MeshConfig(columns=4, rows=3)
    for dst in range(cfg.nodes):
        route = xy_route(cfg, src, dst)
        assert len(route) - 1 == hop_count(cfg, src, dst)
        for router, port in route:
            assert xy_output_port(cfg.columns, router, dst) == port


def test_xy_route_rejects_nodes_outside_the_mesh():
    with pytest.raises(AccelsimError, match="destination"):
        xy_route(BOOKSIM, 0, 16)


def test_mean_uniform_hops_matches_enumeration():
    cfg = MeshConfig(columns=5, rows=3)
    brute = np.mean([hop_count(cfg, s, d) for s in range(15) for d in range(15)])
    assert mean_uniform_hops(5, 3) == pytest.approx(brute)
    assert mean_uniform_hops(8, 8) == pytest.approx(5.25)


def test_channel_load_bound_is_four_over_k_for_uniform_traffic():
    for k in (4, 8):
        cfg = MeshConfig(columns=k, rows=k)
        assert ideal_saturation_rate(cfg, traffic_matrix(cfg, "uniform")) == pytest.approx(
            min(1.0, 4 / k))
    loads = channel_loads(BOOKSIM, traffic_matrix(BOOKSIM, "uniform"))
    assert loads[:, 0] == pytest.approx(np.ones(16))  # every node ejects its share


def test_route_loads_equal_the_sum_over_xy_routes():
    # the analytical fidelity's channel-load term: vectorised, same links as xy_route
    cfg = MeshConfig(columns=5, rows=3)
    rng = np.random.default_rng(0)
    src, dst = rng.integers(0, 15, 300), rng.integers(0, 15, 300)
    amount = rng.integers(1, 1000, 300)
    want = np.zeros((15, 6))
    for s, d, b in zip(src.tolist(), dst.tolist(), amount.tolist()):
        want[s, 5] += b
        for router, port in xy_route(cfg, s, d):
            want[router, port] += b
    assert np.array_equal(route_loads(cfg, src, dst, amount), want)


# ---------------------------------------------------------------------------- arithmetic
def test_serialization_arithmetic():
    assert packet_flits(0, 16) == 1
    assert packet_flits(16, 16) == 1
    assert packet_flits(17, 16) == 2
    assert packet_flits(4096, 32) == 128
    assert serialization_cycles(4) == 4
    with pytest.raises(ValueError):
        serialization_cycles(0)


def test_zero_load_formula_is_booksims():
    for hops in range(7):
        for flits in (1, 4, 8):
            assert zero_load_latency_cycles(BOOKSIM, hops=hops, flits=flits) == \
                6 + 4 * hops + flits - 1


@pytest.mark.parametrize("cfg", [BOOKSIM, ATOMIC,
                                 dataclasses.replace(BOOKSIM, router_pipeline_cycles=5,
                                                     link_latency_cycles=2),
                                 dataclasses.replace(BOOKSIM, router_pipeline_cycles=1)])
def test_single_packet_latency_equals_zero_load_formula(cfg):
    for src, dst in [(0, 0), (0, 15), (5, 6), (12, 3)]:
        for flits in (1, 3, 8):
            lat, = packet_latencies(cfg, [(10, src, dst, flits)])
            assert lat == zero_load_latency_cycles(cfg, hops=hop_count(cfg, src, dst),
                                                   flits=flits)


# ---------------------------------------------------------------------------- contention
@pytest.mark.parametrize("flits", [1, 2, 4, 8])
def test_shared_ejection_link_delays_second_packet_by_serialization_time(flits):
    # nodes 0 and 2 are one hop from node 1: both heads reach router 1's ejection port together
    cfg = dataclasses.replace(ATOMIC, columns=3, rows=1)
    first, second = sorted(packet_latencies(cfg, [(0, 0, 1, flits), (0, 2, 1, flits)]))
    assert first == zero_load_latency_cycles(cfg, hops=1, flits=flits)
    assert second - first == serialization_cycles(flits)


@pytest.mark.parametrize("flits", [1, 4])
def test_shared_injection_channel_serializes_packets(flits):
    a, b = packet_latencies(ATOMIC, [(0, 0, 3, flits), (0, 0, 3, flits)])
    assert b - a == serialization_cycles(flits)


def test_shared_router_link_delays_crossing_traffic():
    # a row of 4: 0 -> 3 and 1 -> 3 share the links 1 -> 2 -> 3. Node 1's packet is created so
    # that both heads bid for router 1's east output in the same cycle; the round-robin pointer
    # starts at the local port, so node 1 wins and node 0's packet waits one serialization time.
    cfg = dataclasses.replace(ATOMIC, columns=4, rows=1)
    lat = packet_latencies(cfg, [(0, 0, 3, 4), (4, 1, 3, 4)])
    assert lat[1] == zero_load_latency_cycles(cfg, hops=2, flits=4)
    assert lat[0] == zero_load_latency_cycles(cfg, hops=3, flits=4) + serialization_cycles(4)
    # one cycle later: node 0's packet already holds the link; node 1's waits for its rest
    lat = packet_latencies(cfg, [(0, 0, 3, 4), (5, 1, 3, 4)])
    assert lat[0] == zero_load_latency_cycles(cfg, hops=3, flits=4)
    assert lat[1] == zero_load_latency_cycles(cfg, hops=2, flits=4) + serialization_cycles(4) - 1


def test_interleaving_shares_the_link_flit_by_flit():
    cfg = dataclasses.replace(BOOKSIM, columns=3, rows=1)  # interleave_flits = 1 (BookSim)
    lat = sorted(packet_latencies(cfg, [(0, 0, 1, 4), (0, 2, 1, 4)]))
    t0 = zero_load_latency_cycles(cfg, hops=1, flits=4)
    assert lat == [t0 + 3, t0 + 4]  # alternate flits: both tails are late, total work unchanged


def test_synthetic_run_is_deterministic_and_conserves_flits():
    a = run_synthetic(BOOKSIM, rate=0.3, packet_flits=2, seed=7, warmup_cycles=200,
                      measure_cycles=1000, drain_cycles=500)
    b = run_synthetic(BOOKSIM, rate=0.3, packet_flits=2, seed=7, warmup_cycles=200,
                      measure_cycles=1000, drain_cycles=500)
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    assert not a.saturated
    assert a.link_utilization.shape == (16, 5)
    # every ejected flit crossed the ejection port: same count
    assert a.link_utilization[:, 0].sum() * a.measure_cycles == pytest.approx(
        a.accepted_flits_per_node_cycle * 16 * a.measure_cycles)
    assert a.avg_packet_latency_cycles >= zero_load_latency_cycles(BOOKSIM, hops=0, flits=2)


def test_overload_is_flagged_saturated():
    res = run_synthetic(BOOKSIM, rate=1.0, seed=1, warmup_cycles=200, measure_cycles=1000,
                        drain_cycles=200)
    assert res.saturated
    assert res.accepted_flits_per_node_cycle < 0.95


def test_hotspot_traffic_loads_the_hotspot_ejection_port():
    cfg = dataclasses.replace(BOOKSIM, memory_controllers=(0,))
    res = run_synthetic(cfg, traffic="hotspot", rate=0.2, hotspot_fraction=0.5,
                        warmup_cycles=200, measure_cycles=2000, drain_cycles=500)
    eject = res.link_utilization[:, 0]
    assert eject[0] == max(eject) and eject[0] > 2 * np.median(eject)


# ---------------------------------------------------------------------------- config
def test_presets_load_and_match_booksim_stock_values(repo_root):
    for k in (4, 8):
        cfg = load_noc_config(repo_root / "arch_configs" / "noc" / f"mesh_booksim_{k}x{k}.yaml")
        assert cfg == MeshConfig(columns=k, rows=k)


def test_registry_has_mesh_and_ideal():
    assert {"mesh", "ideal"} <= set(NOCS.names())
    assert isinstance(build_noc({"impl": "ideal"}), IdealNoC)
    with pytest.raises(UnknownImplError, match="did you mean 'mesh'"):
        build_noc({"impl": "mesj", "columns": 2, "rows": 2})


@pytest.mark.parametrize("raw, key, fragment", [
    ({"columns": 0, "rows": 4}, "noc.columns", ">= 1"),
    ({"rows": 4}, "noc.columns", "missing"),
    ({"columns": 4, "rows": 4, "flit_byts": 16}, "noc.flit_byts", "did you mean 'flit_bytes'"),
    ({"columns": 4, "rows": 4, "link_latency_cycles": 1.5}, "noc.link_latency_cycles", "integer"),
    ({"columns": 4, "rows": 4, "routing": "west_first"}, "noc.routing", "xy"),
    ({"columns": 4, "rows": 4, "interleave_flits": 16}, "noc.interleave_flits", "vc_buffer"),
    ({"columns": 4, "rows": 4, "memory_controllers": {"placement": "diagonal"}},
     "noc.memory_controllers.placement", "edges"),
    ({"columns": 4, "rows": 4, "memory_controllers": {"placement": "explicit",
                                                      "nodes": [[4, 0]]}},
     "noc.memory_controllers.nodes[0]", "0 <= x < 4"),
    ({"columns": 4, "rows": 4, "memory_controllers": {"placement": "columns", "columns": [9]}},
     "noc.memory_controllers.columns", "column indices"),
    ({"columns": 4, "rows": 4, "inter_chip": {"latency_cycles": 20, "links": []}},
     "noc.inter_chip", "interconnect"),
])
def test_config_errors_name_file_key_expected_and_given(raw, key, fragment):
    with pytest.raises(ConfigError) as info:
        build_noc(dict(raw, impl="mesh"), file="chip.yaml")
    message = str(info.value)
    assert message.startswith(f"chip.yaml: {key}: ")
    assert fragment in message


def test_memory_controller_placements():
    assert memory_controller_nodes("edges", 3, 2) == [0, 2, 3, 5]
    assert memory_controller_nodes("columns", 4, 2, mc_columns=[1]) == [1, 5]
    noc = build_noc({"impl": "mesh", "columns": 4, "rows": 4,
                     "memory_controllers": {"placement": "explicit", "nodes": [[3, 3], 1]}})
    assert noc.cfg.memory_controllers == (1, 15)
    assert noc.cfg.node_roles()[15] == "memory_controller"


def test_inter_chip_key_is_rejected_at_load_with_the_replacement_named(tmp_path, capsys,
                                                                     repo_root):
    # noc.inter_chip used to be parsed and ignored (issue 17): a 100k-cycle link changed nothing.
    # Chip-to-chip links are the top-level interconnect; the key is an error naming it.
    raw = yaml.safe_load((repo_root / "arch_configs" / "mesh4x4_npu_hbm.yaml").read_text())
    raw["noc"]["inter_chip"] = {"latency_cycles": 100000,
                                "links": [{"node": [3, 0], "peer_chip": 1, "peer_node": 0}]}
    path = tmp_path / "chips.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert cli_main(["simulate", "--arch", str(path), "--model", "tiny-llama-gqa-test", "--phase",
                 "decode", "--batch", "2", "--context", "32", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "chips.yaml: noc.inter_chip:" in err and "interconnect" in err
    assert "Traceback" not in err


def test_preset_file_with_unknown_top_level_key_is_an_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"source": "x", "noc": {"columns": 2, "rows": 2},
                                    "extra": 1}))
    with pytest.raises(ConfigError, match="extra"):
        load_noc_config(path)


@pytest.mark.parametrize("text", ["0x4", "8", "axb", "4x4x4"])
def test_bad_mesh_strings(text):
    with pytest.raises(AccelsimError):
        parse_mesh(text)


# ---------------------------------------------------------------------------- SimPy API
def _simpy_run(noc, sends):
    env = simpy.Environment()
    noc.bind(env)
    done = {}

    def one(i, src, dst, nbytes, start_ps):
        yield env.timeout(start_ps)
        yield env.process(noc.send(src, dst, nbytes))
        done[i] = env.now

    for i, (src, dst, nbytes, start) in enumerate(sends):
        env.process(one(i, src, dst, nbytes, start))
    env.run()
    return done


def test_simpy_send_unloaded_matches_zero_load_formula():
    noc = MeshNoC(BOOKSIM)  # 1 GHz: 1 cycle = 1000 ps
    done = _simpy_run(noc, [(0, 15, 64, 0)])
    assert done[0] == 1000 * zero_load_latency_cycles(BOOKSIM, hops=6, flits=4)
    assert done[0] == 1000 * noc.unloaded_send_cycles(0, 15, 64)


def test_simpy_shared_link_delays_second_message_by_serialization_time():
    noc = MeshNoC(dataclasses.replace(BOOKSIM, columns=3, rows=1))
    done = _simpy_run(noc, [(0, 1, 64, 0), (2, 1, 64, 0)])
    assert abs(done[1] - done[0]) == 1000 * serialization_cycles(4)
    util = noc.link_utilization()
    assert util.shape == (3, 5) and util[1, 0] > 0


def test_simpy_ideal_noc_is_free():
    noc = build_noc({"impl": "ideal"})
    assert _simpy_run(noc, [(0, 5, 10**6, 0)]) == {0: 0}


# ---------------------------------------------------------------------------- CLI
def test_cli_json(capsys):
    assert cli_main(["noctest", "--mesh", "4x4", "--rate", "0.1", "--packet-flits", "4",
                     "--seed", "3", "--json", "--measure-cycles", "1000",
                     "--warmup-cycles", "200"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("avg_packet_latency_cycles", "accepted_flits_per_node_cycle",
                "offered_flits_per_node_cycle", "saturated"):
        assert key in out
    assert out["saturated"] is False


@pytest.mark.parametrize("argv", [["--mesh", "0x4"], ["--rate", "1.5"], ["--rate", "0"],
                                  ["--traffic", "bitrev"], ["--mesh", "4x2", "--traffic",
                                                            "transpose"],
                                  ["--packet-flits", "0"]])
def test_cli_bad_input_is_one_line_exit_2(argv, capsys):
    assert cli_main(["noctest", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("accelsim: error:") and err.count("\n") == 1
