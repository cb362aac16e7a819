"""Request traces: seeded synthesis, arrival processes, validation errors, importers."""

import numpy as np
import pytest

from accelsim.errors import ConfigError, TraceError
from accelsim.workload.requests import (arrival_times_s, dataset_names, load_dataset,
                                        load_requests, synthesize_requests)


def test_same_seed_same_trace_byte_for_byte(tmp_path):
    a = synthesize_requests("sharegpt", rate=5, duration_s=30, seed=7)
    b = synthesize_requests("sharegpt", rate=5, duration_s=30, seed=7)
    pa, pb = a.save(tmp_path / "a.csv"), b.save(tmp_path / "b.csv")
    assert pa.read_bytes() == pb.read_bytes()
    assert (tmp_path / "a.meta.json").read_text() == (tmp_path / "b.meta.json").read_text()
    c = synthesize_requests("sharegpt", rate=5, duration_s=30, seed=8)
    assert not a.requests.equals(c.requests)


def test_arrival_process_does_not_change_lengths():
    a = synthesize_requests("azure-conv", num_requests=200, arrival="poisson", seed=3)
    b = synthesize_requests("azure-conv", num_requests=200, arrival="gamma", cv=4, seed=3)
    assert a.requests.input_tokens.tolist() == b.requests.input_tokens.tolist()
    assert a.requests.arrival_ns.tolist() != b.requests.arrival_ns.tolist()


def test_round_trip_through_csv(tmp_path):
    a = synthesize_requests("alpaca", rate=10, duration_s=5, seed=1)
    back = load_requests(a.save(tmp_path / "r.csv"))
    assert back.requests.equals(a.requests)
    assert back.meta["seed"] == 1 and back.meta["dataset"]["name"] == "alpaca"


@pytest.mark.parametrize("name", ["sharegpt", "alpaca", "lmsys", "azure-conv", "azure-code"])
def test_presets_reproduce_their_statistics(name):
    t = synthesize_requests(name, num_requests=4000, seed=0).requests
    preset = load_dataset(name)
    assert t.input_tokens.min() >= 1 and t.input_tokens.max() <= preset.input.max
    # median of a clipped log-normal = exp(mu) (clipping only touches the tails)
    assert np.median(t.input_tokens) == pytest.approx(np.exp(preset.input.mu), rel=0.1, abs=1)
    assert np.median(t.output_tokens) == pytest.approx(np.exp(preset.output.mu), rel=0.1, abs=1)
    assert set(dataset_names()) >= {"sharegpt", "alpaca", "lmsys", "azure-conv", "azure-code"}


def test_sharegpt_means_are_the_published_ones():
    t = synthesize_requests("sharegpt", num_requests=20000, seed=0).requests
    assert t.output_tokens.mean() == pytest.approx(337.99, rel=0.05)
    assert t.input_tokens.mean() == pytest.approx(161.31, rel=0.1)   # 2048 clip trims the tail


@pytest.mark.parametrize("arrival, cv", [("poisson", 1.0), ("gamma", 3.0), ("onoff", None)])
def test_arrival_processes_keep_the_mean_rate(arrival, cv):
    times = arrival_times_s(np.random.default_rng(0), rate=5, duration_s=2000, arrival=arrival,
                            cv=cv or 2.0)
    assert len(times) / 2000 == pytest.approx(5, rel=0.1)
    gaps = np.diff(times)
    if cv:
        assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.15)
    else:
        assert gaps.std() / gaps.mean() > 1.5                         # bursty
    assert (gaps >= 0).all() and times.max() < 2000


def test_max_total_tokens_clips():
    t = synthesize_requests("azure-conv", num_requests=500, seed=0, max_total_tokens=2048)
    assert ((t.requests.input_tokens + t.requests.output_tokens) <= 2048).all()


def test_bad_synthesis_arguments():
    with pytest.raises(ConfigError, match="unknown dataset 'sharegtp'.*did you mean 'sharegpt'"):
        synthesize_requests("sharegtp")
    with pytest.raises(ConfigError, match="rate: expected a positive number"):
        synthesize_requests("sharegpt", rate=0)
    with pytest.raises(ConfigError, match="unknown arrival process 'posson'"):
        synthesize_requests("sharegpt", arrival="posson")


GOOD = "req_id,arrival_ns,input_tokens,output_tokens\n0,0,10,5\n1,100,20,3\n"


@pytest.mark.parametrize("text, row, column, fragment", [
    ("req_id,arrival_ns,input_tokens\n0,0,10\n", None, None, "missing required column.*output_tokens"),
    ("req_id,arrival_ns,input_tokens,output_token\n0,0,1,1\n", None, None, "is column 'output_token' meant to be 'output_tokens'"),
    (GOOD + "2,200,x,4\n", 3, "input_tokens", "expected an integer >= 1, got 'x'"),
    (GOOD + "2,200,0,4\n", 3, "input_tokens", "expected an integer >= 1, got 0"),
    (GOOD + "2,-5,3,4\n", 3, "arrival_ns", "expected an integer >= 0, got -5"),
    (GOOD + "2,200,3,\n", 3, "output_tokens", "got an empty cell"),
    (GOOD + "1,200,3,4\n", 3, "req_id", "duplicate req_id 1"),
    (GOOD + "2,200,3.5,4\n", 3, "input_tokens", "got '3.5'"),
    ("req_id,arrival_ns,input_tokens,output_tokens,cached_tokens\n0,0,10,5,10\n", 1,
     "cached_tokens", "must be below input_tokens"),
    ("req_id,arrival_ns,input_tokens,output_tokens,color\n0,0,1,1,red\n", None, "color", "unknown column"),
    ("", None, None, "file is empty"),
    ("req_id,arrival_ns,input_tokens,output_tokens\n", None, None, "no rows"),
])
def test_malformed_request_traces_name_file_row_column(tmp_path, text, row, column, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(TraceError, match=fragment) as info:
        load_requests(path)
    assert info.value.file == str(path)
    assert info.value.row == row and info.value.column == column


def test_missing_file():
    with pytest.raises(TraceError, match="file not found"):
        load_requests("no/such/requests.csv")


def test_import_azure(tmp_path):
    path = tmp_path / "AzureLLMInferenceTrace_conv.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                    "2023-11-16 18:15:46.6805900,374,44\n"
                    "2023-11-16 18:15:50.9951690,396,109\n"
                    "2023-11-16 18:15:51.1000000,0,10\n"
                    "2023-11-16 18:15:47.0000000,879,0\n")
    t = load_requests(path)
    assert t.requests.input_tokens.tolist() == [374, 396]
    assert t.requests.arrival_ns.tolist() == [0, 4_314_579_000]
    assert t.meta["dropped_zero_token_rows"] == 2 and t.meta["source"]["format"] == "azure"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,3,4\nnoon,3,4\n")
    with pytest.raises(TraceError, match="expected a timestamp") as info:
        load_requests(path)
    assert (info.value.row, info.value.column) == (2, "TIMESTAMP")


def test_import_neupims_and_vidur(tmp_path):
    neupims = tmp_path / "share-gpt2-bs512-ms7B-tp4-rr-0.csv"
    neupims.write_text("seq_len,ch_idx\n2048,30\n1014,12\n5,2\n")
    t = load_requests(neupims, output_tokens=4)
    assert t.requests.input_tokens.tolist() == [2048, 1014, 5]
    assert t.requests.pim_channel.tolist() == [30, 12, 2]
    assert (t.requests.arrival_ns == 0).all() and (t.requests.output_tokens == 4).all()
    vidur = tmp_path / "vidur.csv"
    vidur.write_text("arrived_at,num_prefill_tokens,num_decode_tokens\n0.5,100,10\n0.25,50,5\n")
    v = load_requests(vidur)
    assert v.requests.arrival_ns.tolist() == [250_000_000, 500_000_000]
    assert v.requests.req_id.tolist() == [1, 0]
