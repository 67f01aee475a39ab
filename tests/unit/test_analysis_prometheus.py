"""Prometheus instant queries: answers read as Argo Rollouts reads them, failures as one sentence each."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from core.prometheus_query import PrometheusError, parse_query_answer, query_prometheus


def answer(result_type: str, result: Any) -> bytes:
    return json.dumps({"status": "success", "data": {"resultType": result_type, "result": result}}).encode()


def test_a_vector_is_the_list_of_its_samples_values() -> None:
    body = answer(
        "vector",
        [
            {"metric": {"code": "500"}, "value": [1714557600.1, "0.25"]},
            {"metric": {"code": "503"}, "value": [1714557600.1, "NaN"]},
            {"metric": {"code": "504"}, "value": [1714557600.1, "+Inf"]},
        ],
    )
    values = parse_query_answer(body)
    assert isinstance(values, tuple) and values[0] == 0.25
    assert math.isnan(values[1]) and values[2] == math.inf
    assert parse_query_answer(answer("vector", [])) == ()


def test_a_scalar_is_one_number() -> None:
    assert parse_query_answer(answer("scalar", [1714557600.1, "0.97"])) == 0.97


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (answer("matrix", []), "answered a matrix result; analysis reads scalar and vector results"),
        (answer("string", [1, "x"]), "answered a string result"),
        (b"<html>", "is not JSON"),
        (b"[]", "is not a Prometheus API answer"),
        (
            json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error"}).encode(),
            "refused the query: bad_data: parse error",
        ),
        (answer("vector", [{"value": [1, "lots"]}]), "holds a value that is not a number: 'lots'"),
        (answer("scalar", "0.5"), "holds a sample that is not [time, value]"),
    ],
)
def test_an_answer_without_usable_numbers_is_an_error(body: bytes, said: str) -> None:
    with pytest.raises(PrometheusError) as raised:
        parse_query_answer(body, "http://prometheus:9090")
    assert said in str(raised.value)


class Fake:
    """A stand-in Prometheus on a loopback port: each request gets `status` and `body`."""

    def __init__(self) -> None:
        self.status = 200
        self.body = answer("vector", [])
        self.delay = 0.0
        self.queries: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.queries.append(self.path)
                time.sleep(fake.delay)
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(fake.body)))
                self.end_headers()
                self.wfile.write(fake.body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True  # a slow answer still under way does not hold the test up
        self.server.block_on_close = False
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.address = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def fake() -> Iterator[Fake]:
    running = Fake()
    yield running
    running.server.shutdown()
    running.server.server_close()


def test_the_query_is_sent_to_the_instant_query_api(fake: Fake) -> None:
    fake.body = answer("vector", [{"value": [1, "0.01"]}])
    assert query_prometheus(fake.address + "/", 'sum(rate(x{code=~"5.."}[1m]))', timeout=5) == (0.01,)
    assert fake.queries == ["/api/v1/query?query=sum%28rate%28x%7Bcode%3D~%225..%22%7D%5B1m%5D%29%29"]


def test_a_bad_query_says_what_prometheus_said(fake: Fake) -> None:
    fake.status = 400
    fake.body = json.dumps({"status": "error", "errorType": "bad_data", "error": "unexpected <EOF>"}).encode()
    with pytest.raises(PrometheusError) as raised:
        query_prometheus(fake.address, "sum(", timeout=5)
    assert str(raised.value) == f"Prometheus at {fake.address} answered HTTP 400: bad_data: unexpected <EOF>"


def test_a_silent_prometheus_is_given_up_on_within_the_timeout(fake: Fake) -> None:
    fake.delay = 1.0
    with pytest.raises(PrometheusError) as raised:
        query_prometheus(fake.address, "up", timeout=0.2)
    assert str(raised.value) == f"Prometheus at {fake.address} did not answer within 0.2 s"


def test_an_unreachable_prometheus_is_one_sentence_without_credentials() -> None:
    with pytest.raises(PrometheusError) as raised:
        query_prometheus("http://user:hunter2@127.0.0.1:9", "up", timeout=2)
    said = str(raised.value)
    assert said.startswith("cannot reach Prometheus at http://") and "hunter2" not in said
