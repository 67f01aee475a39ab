"""One instant query to Prometheus's HTTP API (`GET /api/v1/query`), its answer as numbers.

As Argo Rollouts' Prometheus provider reads it: a `scalar` answer is one number, a `vector` answer
the list of its samples' values (one per series, possibly none); any other result type is an error.
`NaN`, `+Inf` and `-Inf` are numbers as Prometheus writes them.

Blocking, with a bounded timeout: the engine runs it on a worker thread. Every failure (refused
connection, timeout, an HTTP error, Prometheus's own `{"status": "error"}`, an answer that is not
JSON) is one PrometheusError sentence naming the address, so a measurement records it as an Error.
The address is redacted in messages (it may carry credentials).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, Final

from core.redact import redact_url

QUERY_PATH: Final = "/api/v1/query"
MAX_ANSWER_BYTES: Final = 4 * 1024 * 1024
"""An analysis query answers a handful of series; anything this large is a mistake, not a result."""


class PrometheusError(Exception):
    """A query that gave no usable answer, as one sentence naming where it went."""


def query_prometheus(address: str, query: str, *, timeout: float) -> float | tuple[float, ...]:
    """The instant value of `query` now: a number for a scalar, a tuple of numbers for a vector."""
    url = f"{address.rstrip('/')}{QUERY_PATH}?{urllib.parse.urlencode({'query': query})}"
    where = redact_url(address)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = answer.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as error:
        # Prometheus answers a bad query with 400 and its usual JSON error body: say what it said.
        said = _error_of(error.read(MAX_ANSWER_BYTES))
        raise PrometheusError(
            f"Prometheus at {where} answered HTTP {error.code}{': ' + said if said else ''}"
        ) from None
    except TimeoutError:
        raise PrometheusError(f"Prometheus at {where} did not answer within {timeout:g} s") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise PrometheusError(f"cannot reach Prometheus at {where} ({reason})") from None
    if len(body) > MAX_ANSWER_BYTES:
        raise PrometheusError(f"Prometheus at {where} answered more than {MAX_ANSWER_BYTES} bytes")
    return parse_query_answer(body, where)


def parse_query_answer(body: bytes, where: str = "Prometheus") -> float | tuple[float, ...]:
    """The numbers in a `/api/v1/query` answer; PrometheusError when it holds none that can be read."""
    try:
        document = json.loads(body)
    except ValueError:
        raise PrometheusError(f"the answer of {where} is not JSON") from None
    if not isinstance(document, Mapping):
        raise PrometheusError(f"the answer of {where} is not a Prometheus API answer")
    if document.get("status") != "success":
        said = _error_of(body) or "no reason given"
        raise PrometheusError(f"Prometheus at {where} refused the query: {said}")
    data = document.get("data")
    if not isinstance(data, Mapping):
        raise PrometheusError(f"the answer of {where} has no data")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return _sample_value(result, where)
    if kind == "vector" and isinstance(result, list):
        samples = [sample.get("value") if isinstance(sample, Mapping) else None for sample in result]
        return tuple(_sample_value(sample, where) for sample in samples)
    raise PrometheusError(
        f"Prometheus at {where} answered a {kind} result; analysis reads scalar and vector results "
        "(an instant query, without a range selector at the top)"
    )


def _sample_value(pair: Any, where: str) -> float:
    """`[<unix time>, "<value>"]`: Prometheus writes values as strings, `NaN` and `+Inf` included."""
    if not isinstance(pair, list) or len(pair) != 2:
        raise PrometheusError(f"the answer of {where} holds a sample that is not [time, value]")
    try:
        return float(pair[1])
    except (TypeError, ValueError):
        raise PrometheusError(
            f"the answer of {where} holds a value that is not a number: {pair[1]!r}"
        ) from None


def _error_of(body: bytes) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(document, Mapping):
        return ""
    kind, error = document.get("errorType"), document.get("error")
    return f"{kind}: {error}" if kind and error else str(error or "")
