"""The one OpenAI-compatible chat client: bounded concurrency, retries, an on-disk cache, usage and cost.

:class:`ChatClient` sends ``(key, messages)`` requests to any ``/v1/chat/completions`` server (OpenAI, vLLM,
Together, a local llama.cpp ...) with at most ``max_concurrency`` in flight, and yields a :class:`ChatResult`
per request as each completes. Transient failures (HTTP 408/429/5xx, timeouts, dropped connections) are
retried by tenacity with exponential backoff and jitter, honouring a ``Retry-After`` header; the SDK's own
retries are off so every attempt is counted. A refused connection or a host name that does not resolve is not
retried: nothing listens there, so the first window of requests fails at once and the circuit breaker stops the
run. A request that still fails yields a result with ``error`` set instead of raising, so one bad request never
stops a job; :attr:`ChatClient.unreachable` tells a caller that *every* new request failed to connect, and
:meth:`ChatClient.raise_if_unreachable` turns that into an error. Errors that will not heal by retrying (HTTP
401/403: the key is rejected; 404: no such model or route; 429 with ``insufficient_quota``: the account is out of
credit) stop :meth:`ChatClient.run` at once with :class:`EndpointRejectedError`, whose message says what to fix,
instead of failing every request in turn.

An answer that ``validate`` rejects (or, with ``reject_truncated``, one cut off at ``max_tokens``) is not re-sent
unchanged (at temperature 0 it would come back the same, paid twice): the re-request carries the rejected answer
and a repair message saying what was wrong, a bounded number of times.

Successful answers are appended to a JSONL cache (one flushed, fsynced line each) keyed by a hash of
everything that determines the answer except the API key, so a rerun or a resumed crash sends no request
for an answer it already has; failures are not cached, so a rerun retries them. The API key is read from the
environment variable a config names, and never logged, cached, or put in an error or a result.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from needlework.io import InputError, dumps, read_append_log
from needlework.progress import progress

log = logging.getLogger(__name__)

JSON_MODES: tuple[str, ...] = ("schema", "object", "none")
LOCAL_API_KEY = "EMPTY"  # what local servers (vLLM, llama.cpp) accept when no key is configured
MAX_RETRY_AFTER_S = 300.0  # a server's Retry-After is honoured up to this many seconds
_TRANSIENT_STATUS = frozenset({408, 429})  # plus every 5xx


class MissingApiKeyError(InputError):
    """The environment variable that a config names for the API key is not set."""


class EndpointUnreachableError(RuntimeError):
    """Every request to an endpoint failed to connect (refused, unresolvable, or timed out)."""


class EndpointRejectedError(RuntimeError):
    """The endpoint refused a request for a reason that retrying cannot fix (bad key, unknown model, no quota)."""


REPAIR_MESSAGE = (
    "Your previous answer was rejected: {problem}. Answer the original request again, following its "
    "instructions exactly."
)


def require_api_key(api_key_env: str | None) -> str:
    """The API key held by environment variable ``api_key_env``, or ``"EMPTY"`` when it is None.

    Raises MissingApiKeyError naming the variable (never a value) when it is unset or empty.
    """
    if api_key_env is None:
        return LOCAL_API_KEY
    key = os.environ.get(api_key_env, "")
    if not key:
        raise MissingApiKeyError(
            f"environment variable {api_key_env} is not set: it should hold the API key "
            f"(the config names it in api_key_env); export it, or set api_key_env: null for a local server"
        )
    return key


@dataclass(frozen=True)
class ChatResult:
    """The outcome of one request. ``content`` is None on a transport failure; for an invalid answer it
    holds the last answer received (and ``error`` says why it was rejected)."""

    key: str
    content: str | None
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    error: str | None
    latency_s: float
    finish_reason: str | None = None  # the server's finish_reason ("stop", "length" ...) of the returned answer


def strict_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a JSON schema usable with ``"strict": true`` structured outputs: every object lists all of its
    properties as required and forbids others, and ``default`` keywords (unsupported there) are dropped."""

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for keyword, value in node.items():
            if keyword == "default":
                continue
            if keyword in ("properties", "$defs", "definitions") and isinstance(value, dict):
                out[keyword] = {name: convert(sub) for name, sub in value.items()}
            else:
                out[keyword] = convert(value)
        if isinstance(out.get("properties"), dict):
            out["required"] = list(out["properties"])
            out["additionalProperties"] = False
        return out

    return convert(schema)


class _ResponseCache:
    """Append-only JSONL of successful answers: ``{"hash", "content", "prompt_tokens", "completion_tokens"}``.

    An unterminated last line (the process died mid-write) is cut off the file on load; any other
    malformed line raises InputError naming ``file:line``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self._fd: int | None = None
        self._lock = threading.Lock()
        if path.exists():
            self._load()

    def _load(self) -> None:
        for lineno, entry in read_append_log(self.path, "LLM cache"):
            if not (isinstance(entry.get("hash"), str) and "content" in entry):
                raise InputError(f"{self.path}:{lineno}: not an LLM cache entry; delete the file")
            self.entries[entry["hash"]] = entry

    def append(self, entry: dict[str, Any]) -> None:
        """Write one entry as a single appended line, flushed and fsynced before returning."""
        data = memoryview((dumps(entry) + "\n").encode("utf-8"))
        with self._lock:
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            while data:
                data = data[os.write(self._fd, data) :]
            os.fsync(self._fd)
            self.entries[entry["hash"]] = entry

    def close(self) -> None:
        """Close the file (a later append reopens it)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class ChatClient:
    """Concurrent, retrying, caching client for one model on one OpenAI-compatible endpoint.

    ``json_mode``: ``"schema"`` sends ``response_format`` json_schema with ``response_schema`` (make it strict
    with :func:`strict_json_schema`), ``"object"`` sends json_object, ``"none"`` sends none. ``validate(content)``
    raising marks an answer invalid: it is requested again up to ``max_invalid_retries`` times, then reported
    as ``error="invalid answer: ..."``; each re-request appends the rejected answer and a repair message. With
    ``reject_truncated`` an answer whose ``finish_reason`` is ``length`` is invalid too. ``validate_keyed(key,
    content)`` is the same check for answers whose validity depends on the request (e.g. quotes of its document).
    With ``cache_invalid``, an answer still invalid after its repairs is cached as such, so a rerun reports it again
    without paying for the same repairs twice (without it, a rerun asks again). ``stop`` strings end
    generation early (sent as the API's ``stop``). Transient failures are retried ``max_retries`` times with a backoff
    starting at ``retry_initial_s`` and capped at ``retry_max_s`` seconds.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key_env: str | None,
        json_mode: str = "object",
        response_schema: dict[str, Any] | None = None,
        schema_name: str = "response",
        max_concurrency: int = 8,
        max_retries: int = 6,
        timeout_s: float = 60.0,
        temperature: float = 0.0,
        max_tokens: int = 256,
        price_input_per_1m: float = 0.0,
        price_output_per_1m: float = 0.0,
        cache_path: str | os.PathLike | None = None,
        validate: Callable[[str], Any] | None = None,
        max_invalid_retries: int = 2,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        reject_truncated: bool = False,
        stop: list[str] | None = None,
        validate_keyed: Callable[[str, str], Any] | None = None,
        cache_invalid: bool = False,
    ) -> None:
        self._api_key = require_api_key(api_key_env)
        if json_mode not in JSON_MODES:
            raise ValueError(f"json_mode must be one of {', '.join(JSON_MODES)}, got {json_mode!r}")
        if json_mode == "schema" and not response_schema:
            raise ValueError('json_mode "schema" needs a response_schema')
        if max_concurrency < 1 or max_retries < 0 or max_invalid_retries < 0 or timeout_s <= 0 or max_tokens < 1:
            raise ValueError(
                "need max_concurrency >= 1, max_retries >= 0, max_invalid_retries >= 0, timeout_s > 0 and "
                f"max_tokens >= 1; got {max_concurrency}, {max_retries}, {max_invalid_retries}, {timeout_s}, "
                f"{max_tokens}"
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.json_mode = json_mode
        self.response_schema = response_schema if json_mode == "schema" else None
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.price_input_per_1m = price_input_per_1m
        self.price_output_per_1m = price_output_per_1m
        self.validate = validate
        self.max_invalid_retries = max_invalid_retries
        self.reject_truncated = reject_truncated
        self.stop = list(stop) if stop else None
        self.validate_keyed = validate_keyed
        self.cache_invalid = cache_invalid
        self._rejected: str | None = None  # set once the endpoint answered with an error that will not heal
        self._backoff = wait_exponential_jitter(initial=retry_initial_s, max=retry_max_s, jitter=retry_initial_s)
        self._response_format: dict[str, Any] | None = {
            "schema": {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": response_schema, "strict": True},
            },
            "object": {"type": "json_object"},
            "none": None,
        }[json_mode]
        self._cache = _ResponseCache(Path(cache_path)) if cache_path is not None else None
        self._sdk = openai.OpenAI(api_key=self._api_key, base_url=self.base_url, max_retries=0, timeout=timeout_s)
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(
            (
                "requests_sent", "cache_hits", "retries", "failures", "invalid", "connection_failures",
                "new_results", "prompt_tokens_new", "completion_tokens_new", "prompt_tokens_cached",
                "completion_tokens_cached",
            ),
            0,
        )
        self._last_error: str | None = None
        self.section: str | None = None  # the config that names this endpoint (set by client_from_config)

    def __repr__(self) -> str:
        return f"ChatClient(base_url={self.base_url!r}, model={self.model!r}, json_mode={self.json_mode!r})"

    def request_hash(self, messages: list[dict[str, Any]]) -> str:
        """The cache key of a request: sha256 over endpoint, model, messages and generation settings (no key)."""
        payload = {
            "base_url": self.base_url,
            "model": self.model,
            "messages": messages,
            "json_mode": self.json_mode,
            "schema": self.response_schema,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            **({"stop": self.stop} if self.stop else {}),  # absent when unset: older cache keys stay valid
        }
        return hashlib.sha256(dumps(payload).encode("utf-8")).hexdigest()

    @property
    def stats(self) -> dict[str, Any]:
        """Counters so far: ``requests_sent`` (HTTP attempts), ``cache_hits``, ``retries``, ``failures``
        (results with an error), ``invalid`` (answers rejected by validate), ``connection_failures``,
        token usage (``*_tokens`` include cached answers' recorded usage, ``*_tokens_new`` only new requests,
        which also count rejected answers) and ``cost_usd`` (all) / ``cost_usd_new`` (new requests only)."""
        with self._lock:
            counts = dict(self._counts)
        prompt_all = counts["prompt_tokens_new"] + counts.pop("prompt_tokens_cached")
        completion_all = counts["completion_tokens_new"] + counts.pop("completion_tokens_cached")
        counts["prompt_tokens"] = prompt_all
        counts["completion_tokens"] = completion_all
        counts["cost_usd"] = self._cost(prompt_all, completion_all)
        counts["cost_usd_new"] = self._cost(counts["prompt_tokens_new"], counts["completion_tokens_new"])
        return counts

    @property
    def unreachable(self) -> bool:
        """True when requests were sent and every one of them failed to connect (none got any HTTP answer)."""
        with self._lock:
            new, failed = self._counts["new_results"], self._counts["connection_failures"]
        return new > 0 and failed == new

    def raise_if_unreachable(self) -> None:
        """Raise EndpointUnreachableError naming the endpoint if :attr:`unreachable`."""
        if self.unreachable:
            where = f"{self.section}{' ' if ' ' in self.section else '.'}base_url: " if self.section else ""
            raise EndpointUnreachableError(
                f"{where}no answer from {self.base_url} (model {self.model}): all {self._counts['new_results']} "
                f"requests failed to connect (last error: {self._last_error}) (start the server or fix base_url)"
            )

    def run(self, requests: Iterable[tuple[str, list[dict[str, Any]]]], desc: str = "llm") -> Iterator[ChatResult]:
        """Yield one ChatResult per ``(key, messages)`` request, in completion order (cache hits at once).

        At most ``max_concurrency`` requests are in flight; requests are read from the iterable lazily.
        """
        total = len(requests) if isinstance(requests, Sized) else None
        window = 2 * self.max_concurrency
        try:
            with (
                progress(total=total, desc=desc, unit="req") as bar,
                ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="llm") as pool,
            ):
                pending: set[Future[ChatResult]] = set()
                try:
                    for key, messages in requests:
                        request_hash = self.request_hash(messages)
                        hit = self._cached(key, request_hash)
                        if hit is not None:
                            bar.update()
                            yield hit
                            continue
                        pending.add(pool.submit(self._fetch, key, messages, request_hash))
                        if len(pending) >= window:  # read ahead no further than the window
                            done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        else:  # pass on whatever has finished meanwhile, without waiting
                            done = {future for future in pending if future.done()}
                            pending -= done
                        for future in done:
                            bar.update()
                            yield self._checked(future.result())
                            self._trip_if_unreachable()
                    while pending:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for future in done:
                            bar.update()
                            yield self._checked(future.result())
                            self._trip_if_unreachable()
                finally:
                    for future in pending:
                        future.cancel()
        finally:
            if self._cache is not None:
                self._cache.close()

    def _checked(self, result: ChatResult) -> ChatResult:
        """Stop the run (remaining requests cancelled) on an error that will not heal."""
        if self._rejected is not None:
            raise EndpointRejectedError(self._rejected)
        return result

    def _trip_if_unreachable(self) -> None:
        """Circuit breaker: once a full window of requests (``max_concurrency``) has failed to connect and none
        got an answer, stop (the remaining requests are cancelled) instead of spending every request's retry
        budget against a dead endpoint."""
        with self._lock:
            new = self._counts["new_results"]
        if new >= self.max_concurrency:
            self.raise_if_unreachable()

    def _cached(self, key: str, request_hash: str) -> ChatResult | None:
        """The cached answer for a request, if there is one that (still) validates."""
        entry = self._cache.entries.get(request_hash) if self._cache is not None else None
        if entry is None:
            return None
        problem = self._problem(entry["content"], entry.get("finish_reason"), key)
        if problem is not None and not (self.cache_invalid and entry.get("invalid")):
            return None
        prompt_tokens, completion_tokens = int(entry.get("prompt_tokens", 0)), int(entry.get("completion_tokens", 0))
        with self._lock:
            self._counts["cache_hits"] += 1
            self._counts["prompt_tokens_cached"] += prompt_tokens
            self._counts["completion_tokens_cached"] += completion_tokens
        error = None if problem is None else f"invalid answer: {problem}"
        return ChatResult(key, entry["content"], prompt_tokens, completion_tokens, True, error, 0.0,
                          entry.get("finish_reason"))

    def _fetch(self, key: str, messages: list[dict[str, Any]], request_hash: str) -> ChatResult:
        """Request until a valid answer, the retry budget is spent, or a permanent error; never raises
        for a server-side problem."""
        start = time.monotonic()
        if self._rejected is not None:  # the endpoint refused for good: send nothing more
            return self._finish(key, None, 0, 0, start, "not sent: the endpoint refused an earlier request")
        invalid_left = self.max_invalid_retries
        asked = messages
        while True:
            retrying = Retrying(
                retry=retry_if_exception(_is_transient),
                stop=stop_after_attempt(self.max_retries + 1),
                wait=self._wait,
                before_sleep=self._before_sleep,
                reraise=True,
            )
            try:
                content, finish, prompt_tokens, completion_tokens = retrying(self._send, asked)
            except openai.OpenAIError as exc:
                self._note_rejection(exc)
                return self._failure(key, start, exc, retrying.statistics.get("attempt_number", 1))
            problem = self._problem(content, finish, key)
            if problem is None:
                break
            with self._lock:
                self._counts["invalid"] += 1
            if invalid_left == 0:
                if self._cache is not None and self.cache_invalid:
                    self._cache.append({"hash": request_hash, "content": content, "finish_reason": finish,
                                        "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                                        "invalid": problem})
                return self._finish(key, content, prompt_tokens, completion_tokens, start, f"invalid answer: {problem}",
                                    finish)
            invalid_left -= 1
            asked = [*messages, {"role": "assistant", "content": content or ""},
                     {"role": "user", "content": REPAIR_MESSAGE.format(problem=problem)}]
        if self._cache is not None:
            entry = {"hash": request_hash, "content": content, "finish_reason": finish}
            self._cache.append({**entry, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens})
        return self._finish(key, content, prompt_tokens, completion_tokens, start, None, finish)

    def _send(self, messages: list[dict[str, Any]]) -> tuple[str | None, str | None, int, int]:
        """One HTTP request: (content, finish_reason, prompt tokens, completion tokens)."""
        with self._lock:
            self._counts["requests_sent"] += 1
        extra = {"response_format": self._response_format} if self._response_format is not None else {}
        if self.stop:
            extra["stop"] = self.stop
        response = self._sdk.chat.completions.create(
            model=self.model, messages=messages, temperature=self.temperature, max_tokens=self.max_tokens, **extra
        )
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage is not None else 0
        completion_tokens = usage.completion_tokens if usage is not None else 0
        with self._lock:
            self._counts["prompt_tokens_new"] += prompt_tokens
            self._counts["completion_tokens_new"] += completion_tokens
        choice = response.choices[0] if response.choices else None
        content = choice.message.content if choice is not None else None
        return content, getattr(choice, "finish_reason", None), prompt_tokens, completion_tokens

    def _wait(self, state: RetryCallState) -> float:
        """Seconds before the next attempt: the server's Retry-After if it sent one, else backoff with jitter."""
        retry_after = _retry_after(state.outcome.exception() if state.outcome is not None else None)
        return retry_after if retry_after is not None else self._backoff(state)

    def _before_sleep(self, state: RetryCallState) -> None:
        with self._lock:
            self._counts["retries"] += 1
        exc = state.outcome.exception() if state.outcome is not None else None
        log.info("%s: attempt %d failed (%s); retrying", self.base_url, state.attempt_number, self._describe(exc))

    def _problem(self, content: str | None, finish_reason: str | None = None, key: str | None = None) -> str | None:
        """Why an answer is invalid, or None when it is fine."""
        if content is None:
            return "the server returned no message content"
        if self.reject_truncated and finish_reason == "length":
            return f"truncated: the answer hit the {self.max_tokens}-token limit (finish_reason=length); be more concise"
        try:
            if self.validate is not None:
                self.validate(content)
            if self.validate_keyed is not None:
                self.validate_keyed(key, content)
        except Exception as exc:  # noqa: BLE001 - any exception from validate means "invalid answer"
            return _one_line(f"{type(exc).__name__}: {exc}")
        return None

    def _note_rejection(self, exc: BaseException) -> None:
        """Remember an error that will not heal, with what to do about it (run() raises it)."""
        advice = _unhealable(exc)
        if advice is not None:
            with self._lock:
                self._rejected = (f"{self.base_url} (model {self.model}) refused the request: {self._describe(exc)}. "
                                  f"{advice} Answers received so far are cached.")

    def _failure(self, key: str, start: float, exc: BaseException, attempts: int) -> ChatResult:
        """The result of a request that got no usable HTTP answer after ``attempts`` attempts."""
        error = self._describe(exc) if attempts == 1 else f"gave up after {attempts} attempts: {self._describe(exc)}"
        with self._lock:
            if isinstance(exc, openai.APIConnectionError):
                self._counts["connection_failures"] += 1
            self._last_error = error
        return self._finish(key, None, 0, 0, start, error)

    def _finish(
        self, key: str, content: str | None, prompt_tokens: int, completion_tokens: int, start: float,
        error: str | None, finish_reason: str | None = None,
    ) -> ChatResult:
        with self._lock:
            self._counts["new_results"] += 1
            self._counts["failures"] += int(error is not None)
        return ChatResult(key, content, prompt_tokens, completion_tokens, False, error, time.monotonic() - start,
                          finish_reason)

    def _describe(self, exc: BaseException | None) -> str:
        """A one-line description of an exception, with the API key (if it ever appeared) masked."""
        if isinstance(exc, openai.APIStatusError):
            text = f"HTTP {exc.status_code}: {exc.message.removeprefix(f'Error code: {exc.status_code} - ')}"
        else:
            text = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, openai.APIConnectionError) and exc.__cause__ is not None:
                text += f" ({type(exc.__cause__).__name__}: {exc.__cause__})"
        if self._api_key != LOCAL_API_KEY:
            text = text.replace(self._api_key, "***")
        return _one_line(text)

    def _cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.price_input_per_1m + completion_tokens * self.price_output_per_1m) / 1e6


def _is_transient(exc: BaseException) -> bool:
    """Worth retrying: a timeout, a dropped connection (not a refused one), HTTP 408/429 (but not an exhausted quota)
    or any 5xx."""
    if isinstance(exc, openai.APIConnectionError):
        return not _nobody_listens(exc)
    if _unhealable(exc) is not None:
        return False
    return isinstance(exc, openai.APIStatusError) and (exc.status_code in _TRANSIENT_STATUS or exc.status_code >= 500)


def _nobody_listens(exc: BaseException | None) -> bool:
    """A refused connection or a host name that does not resolve (anywhere in the exception's causes)."""
    for _ in range(8):
        if exc is None:
            return False
        if isinstance(exc, (ConnectionRefusedError, socket.gaierror)) or type(exc).__name__ == "ConnectError":
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _error_code(exc: openai.APIStatusError) -> str | None:
    """The ``error.code`` (or ``error.type``) of an OpenAI-style error body, if any."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
    return exc.code or error.get("code") or error.get("type")


def _unhealable(exc: BaseException) -> str | None:
    """What the user must fix when an HTTP error cannot heal by retrying (bad key, unknown model, no quota), or None."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    if exc.status_code in (401, 403):
        return "The API key was rejected: check the variable that api_key_env names (and its permissions)."
    if exc.status_code == 404:
        return "No such model or route: check the config's model name and that base_url ends in /v1."
    if exc.status_code == 429 and _error_code(exc) == "insufficient_quota":
        return "The account has no quota left (insufficient_quota): add credit or use another key; retrying cannot help."
    return None


def _retry_after(exc: BaseException | None) -> float | None:
    """The Retry-After header of an HTTP error, in seconds (capped), or None if absent or not a number."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    try:
        seconds = float(exc.response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _one_line(text: str, limit: int = 400) -> str:
    """Whitespace collapsed, cut to ``limit`` characters."""
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


_INT_KEYS = ("max_concurrency", "max_retries", "max_tokens")
_FLOAT_KEYS = (
    "timeout_s", "temperature", "price_input_per_1m", "price_output_per_1m", "retry_initial_s", "retry_max_s"
)


def client_from_config(
    cfg: Mapping[str, Any],
    *,
    section: str,
    cache_path: str | os.PathLike | None,
    response_schema: dict[str, Any] | None = None,
    schema_name: str = "response",
    validate: Callable[[str], Any] | None = None,
    **options: Any,
) -> ChatClient:
    """A ChatClient from a model or labeler config (``base_url``, ``model``, ``api_key_env``, ``json_mode``,
    ``max_concurrency``, ``price_input_per_1m``, ``price_output_per_1m``, ``temperature``, ``max_tokens``,
    ``max_retries``, ``timeout_s``; optionally ``retry_initial_s``, ``retry_max_s``). Missing or ill-typed
    values raise InputError naming ``<section>.<key>``; absent or null optional keys take ChatClient's defaults.
    ``options`` (e.g. ``reject_truncated``, ``max_invalid_retries``, ``stop``) go to ChatClient as they are."""
    for required in ("base_url", "model"):
        if not cfg.get(required):
            raise InputError(f"{section}.{required}: required for an OpenAI-compatible endpoint, but missing")
    kwargs: dict[str, Any] = {}
    for key, cast in [*((k, int) for k in _INT_KEYS), *((k, float) for k in _FLOAT_KEYS)]:
        value = cfg.get(key)
        if value is None:
            continue
        if isinstance(value, bool):
            raise InputError(f"{section}.{key}: expected a number, got {value!r}")
        try:
            kwargs[key] = cast(value)
        except (TypeError, ValueError):
            raise InputError(f"{section}.{key}: expected a number, got {value!r}") from None
    json_mode = cfg.get("json_mode") or "object"
    if json_mode not in JSON_MODES:
        raise InputError(f"{section}.json_mode: must be one of {', '.join(JSON_MODES)}, got {json_mode!r}")
    api_key_env = cfg.get("api_key_env")
    if api_key_env is not None and not isinstance(api_key_env, str):
        raise InputError(f"{section}.api_key_env: expected the name of an environment variable, got {api_key_env!r}")
    try:
        client = ChatClient(
            base_url=str(cfg["base_url"]),
            model=str(cfg["model"]),
            api_key_env=api_key_env,
            json_mode=json_mode,
            response_schema=response_schema,
            schema_name=schema_name,
            cache_path=cache_path,
            validate=validate,
            **{**kwargs, **options},
        )
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{section}: {exc}") from None
    client.section = section
    return client
