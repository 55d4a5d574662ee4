"""Send apply's events to the `notifications:` of the config: webhooks and commands.

An alert must never become the outage: a dead, slow or failing endpoint cannot fail an apply
or a revert, nor hold it longer than a bounded budget. So events are delivered by one
background thread, in order, while the apply goes on; ``close`` waits for what is left at
most ``CLOSE_BUDGET_S`` and then gives up, saying so as a warning.

Each event carries an id and is delivered at most once per occurrence: an attempt is retried
(with backoff) only when it surely did not land — connection refused, a 5xx or 429 answer, a
command that exited non-zero — never after a timeout, which may have landed.

Secrets stay in the environment: ``${NAME}`` in a webhook URL or header is expanded only
when the request is built, so a token never reaches a log, the state, a plan or an error
message. A warning names the URL as the config writes it (``${NAME}`` unexpanded), never
quotes a header or the request, and is scrubbed of every expanded value in each form an
error could quote it (escaped, URL-quoted, base64). A value that cannot be sent as it is (a
trailing newline, a control character, a non-ASCII letter) is refused by its variable's
name before any request is made. Commands get the event JSON on stdin and expand their own
variables in their shell, so a secret is not on their command line.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import queue
import re
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvctl import __version__

if TYPE_CHECKING:
    from mvctl.spec.models import Notification

CLOSE_BUDGET_S = 10.0
"""The longest ``close`` waits for undelivered events once the apply is done."""
BACKOFF_S = 0.2
"""The first retry's delay; each further retry doubles it."""
LOG = logging.getLogger("mvctl.notify")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Retry(Exception):
    """The attempt surely did not land; trying again cannot deliver it twice."""


class _GiveUp(Exception):
    """The attempt failed in a way retrying cannot fix, or that may have landed."""


WEBHOOK_URL = "the webhook URL"
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CHARACTERS = {
    "\n": "a newline",
    "\r": "a carriage return",
    "\t": "a tab",
    "\x00": "a NUL byte",
    " ": "a space",
}


def expand(text: str, env: Mapping[str, str], where: str) -> tuple[str, list[str]]:
    """``text`` with each ``${NAME}`` replaced from ``env``; also the values put in, to scrub.

    A value that ``where`` (``WEBHOOK_URL`` or a header) cannot carry as it is (a control
    character, a non-ASCII letter, a space in a URL) is refused by the variable's name,
    before anything is sent: sent anyway, it would fail in an error quoting it.
    """
    secrets: list[str] = []

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise _GiveUp(f"environment variable {name} is not set")
        problem = _unsendable(env[name], where)
        if problem is not None:
            kind, fix = problem
            raise _GiveUp(
                f"environment variable {name} holds {kind}, which cannot be sent in {where}; {fix}"
            )
        secrets.append(env[name])
        return env[name]

    return _VARIABLE.sub(value, text), secrets


def _unsendable(value: str, where: str) -> tuple[str, str] | None:
    """What in ``value`` cannot go into ``where`` as it is, and the fix, in words that never
    quote the value."""
    in_url = where == WEBHOOK_URL
    for char in value:
        code = ord(char)
        if code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0 or (char == " " and in_url):
            kind = _CHARACTERS.get(char, "a control character")
            if char == "\n":
                return kind, "remove it (a secret read from a file often ends with one)"
            return kind, "percent-encode it as %20" if char == " " else "remove it"
        if code > 0x7E:
            return "a non-ASCII character", (
                "percent-encode it" if in_url else "HTTP header values must be ASCII"
            )
    return None


def _refuse_unsendable(value: str, where: str) -> None:
    """Refuse what the config itself writes into ``where`` that cannot be sent as it is."""
    problem = _unsendable(value, where)
    if problem is not None:
        kind, fix = problem
        raise _GiveUp(f"{where} holds {kind}; {fix}")


def build_request(
    target: Notification, env: Mapping[str, str], headers: Mapping[str, str]
) -> tuple[str, dict[str, str], list[str]]:
    """The URL and headers of a webhook delivery (``headers`` and the target's own, expanded),
    and every secret they hold, to scrub from a failure.

    A user and password in the URL are sent as Basic authentication, as curl does; Python's
    HTTP client would take them for part of the host name.
    """
    assert target.webhook is not None
    url, secrets = expand(target.webhook, env, WEBHOOK_URL)
    _refuse_unsendable(url, WEBHOOK_URL)
    request_headers = dict(headers)
    for name, raw in target.headers.items():
        where = f"header {name}"
        if not _HEADER_NAME.fullmatch(name):
            raise _GiveUp(f"'{name}' is not a valid HTTP header name (letters, digits and -)")
        request_headers[name], more = expand(raw, env, where)
        secrets += more
        _refuse_unsendable(request_headers[name], where)
    url, credentials = _split_credentials(url)
    if credentials is not None:
        if any(name.lower() == "authorization" for name in request_headers):
            raise _GiveUp(
                "the webhook URL holds a user and password and an Authorization header is set "
                "too; keep one of them"
            )
        token = base64.b64encode(credentials.encode("utf-8")).decode("ascii")
        request_headers["Authorization"] = f"Basic {token}"
        secrets += [credentials, credentials.partition(":")[2], token]
    return url, request_headers, secrets


def _split_credentials(url: str) -> tuple[str, str | None]:
    """``url`` without its user and password, and them as 'user:password' (None if absent)."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise _GiveUp("a webhook URL must start with http:// or https://")
    try:
        _ = parts.port  # reading it checks it
    except ValueError:
        raise _GiveUp("the webhook URL's port is not a number from 0 to 65535") from None
    if not parts.hostname:
        raise _GiveUp("the webhook URL names no host")
    if "@" not in parts.netloc:
        return url, None
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    bare = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    return urlunsplit(bare), f"{user}:{password}"


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret replaced by '***' in each form an error may quote it: as
    is, repr'd as text or bytes, JSON-escaped, URL-quoted, base64 (longest first, so none
    leaks in part)."""
    forms = {form for secret in secrets if secret for form in _quoted_forms(secret) if form}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text


def _quoted_forms(secret: str) -> set[str]:
    from urllib.parse import quote, quote_plus

    data = secret.encode("utf-8", "backslashreplace")
    return {
        secret,
        repr(secret)[1:-1],
        repr(data)[2:-1],
        json.dumps(secret)[1:-1],
        quote(secret),
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(data).decode("ascii"),
    }


@dataclass
class Notifier:
    """Delivers events to the notifications that subscribe to them; no targets, no thread."""

    targets: Sequence[Notification]
    root: Path
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    _queue: queue.Queue[tuple[Notification, str, dict[str, Any]] | None] = field(
        default_factory=queue.Queue
    )
    _worker: threading.Thread | None = None

    def send(self, event: dict[str, Any]) -> None:
        """Queue ``event`` (it has "event" and "id") for every target that wants its kind."""
        for target in self.targets:
            if target.events and event["event"] not in target.events:
                continue
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._deliver_all, name="mvctl-notify", daemon=True
                )
                self._worker.start()
            if target.webhook is not None:
                self._queue.put((target, "webhook", event))
            if target.command is not None:
                self._queue.put((target, "command", event))

    def close(self, budget_s: float = CLOSE_BUDGET_S) -> None:
        """Wait up to ``budget_s`` for queued events; what is still queued then is dropped."""
        if self._worker is None:
            return
        self._queue.put(None)
        self._worker.join(budget_s)
        if self._worker.is_alive():
            LOG.warning(
                "Warning: notifications still undelivered after %g s were dropped, so that "
                "the command is not held up",
                budget_s,
            )

    def _deliver_all(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                self._deliver(*item)
            except Exception as error:  # the last guard: nothing escapes this thread unscrubbed
                LOG.warning(
                    "Warning: notification %s failed: %s",
                    item[2]["event"],
                    scrub(f"{type(error).__name__}: {error}", _env_values(item[0], self.env)),
                )

    def _deliver(self, target: Notification, channel: str, event: dict[str, Any]) -> None:
        body = json.dumps(event, sort_keys=True).encode("utf-8")
        secrets: list[str] = []
        attempts = target.retries + 1
        for attempt in range(attempts):
            try:
                if channel == "webhook":
                    secrets = self._post(target, event, body)
                else:
                    self._run(target, body)
                return
            except _Retry as retry:
                problem = str(retry)
                if attempt + 1 < attempts:
                    time.sleep(BACKOFF_S * 2**attempt)
                    continue
                problem = f"{problem} (tried {attempts} times)" if attempts > 1 else problem
            except _GiveUp as given_up:
                problem = str(given_up)
            where = target.webhook if channel == "webhook" else f"command {target.command!r}"
            LOG.warning(
                "Warning: notification %s (event %s) to %s was not delivered: %s",
                event["event"],
                event["id"],
                where,
                scrub(problem, secrets + _env_values(target, self.env)),
            )
            return

    def _post(self, target: Notification, event: dict[str, Any], body: bytes) -> list[str]:
        """POST ``body``; returns the secrets it expanded (for scrubbing a later failure).

        No failure quotes the request: an answer is told by its status code, a connection
        failure by the operating system's words for it, so neither the expanded URL nor a
        header value can reach a warning (and each is scrubbed besides).
        """
        import urllib.error
        import urllib.request

        url, headers, secrets = build_request(
            target,
            self.env,
            {
                "Content-Type": "application/json",
                "User-Agent": f"mvctl/{__version__}",
                "X-Mvctl-Event": event["event"],
                "X-Mvctl-Event-Id": event["id"],
            },
        )
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=target.timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            error.close()
            if error.code >= 500 or error.code == 429:
                raise _Retry(f"the endpoint answered {error.code}") from None
            raise _GiveUp(f"the endpoint answered {error.code}") from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise _GiveUp(f"no answer within {target.timeout:g} s") from None
            raise _Retry(scrub(f"cannot connect: {_reason(error.reason)}", secrets)) from None
        except TimeoutError:
            raise _GiveUp(f"no answer within {target.timeout:g} s") from None
        except OSError as error:
            raise _GiveUp(scrub(f"connection failed: {_reason(error)}", secrets)) from None
        except Exception as error:
            # Any other failure (http.client's InvalidURL is no OSError) ends here, scrubbed:
            # a traceback escaping this thread would print the expanded secret.
            raise _GiveUp(scrub(f"{type(error).__name__}: {error}", secrets)) from None
        return secrets

    def _run(self, target: Notification, body: bytes) -> None:
        assert target.command is not None
        try:
            done = subprocess.run(
                target.command,
                shell=True,
                cwd=self.root,
                input=body,
                capture_output=True,
                timeout=target.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise _GiveUp(f"the command did not finish within {target.timeout:g} s") from None
        except OSError as error:
            raise _GiveUp(f"the command could not start: {error.strerror}") from None
        if done.returncode != 0:
            raise _Retry(f"the command exited with code {done.returncode}")


def _reason(reason: object) -> str:
    """A connection failure in the operating system's words, never quoting the address."""
    import ssl

    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"the TLS certificate was refused ({reason.verify_message})"
    if isinstance(reason, OSError) and reason.strerror:
        return str(reason.strerror)
    return type(reason).__name__ if isinstance(reason, BaseException) else str(reason)


def _env_values(target: Notification, env: Mapping[str, str]) -> list[str]:
    """The values of every variable the target names, to scrub even an unexpanded failure."""
    texts = [target.webhook or "", *target.headers.values()]
    return [env[name] for text in texts for name in _VARIABLE.findall(text) if name in env]
