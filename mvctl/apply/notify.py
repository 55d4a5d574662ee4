"""Send apply's events to the `notifications:` of the config: webhooks and commands.

An alert must never become the outage: a dead, slow or failing endpoint cannot fail an apply
or a revert, nor hold it longer than a bounded budget. So events are delivered by one
background thread, in order, while the apply goes on; ``close`` waits for what is left at
most ``CLOSE_BUDGET_S`` and then gives up, saying so as a warning.

Each event carries an id and is delivered at most once per occurrence: an attempt is retried
(with backoff) only when it surely did not land — connection refused, a 5xx or 429 answer, a
command that exited non-zero — never after a timeout, which may have landed.

Secrets stay in the environment: ``${NAME}`` in a webhook URL or header is expanded only
when the request is built, and every warning is scrubbed of the expanded values, so a token
never reaches a log, the state, a plan or an error message. Commands get the event JSON on
stdin and expand their own variables in their shell, so a secret is not on their command line.
"""

from __future__ import annotations

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
from typing import Any

from mvctl import __version__
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


def expand(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """``text`` with each ``${NAME}`` replaced from ``env``; also the values put in, to scrub."""
    secrets: list[str] = []

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise _GiveUp(f"environment variable {name} is not set")
        secrets.append(env[name])
        return env[name]

    return _VARIABLE.sub(value, text), secrets


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret value replaced by '***' (longest first, so none leaks in part)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


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
                problem = f"{problem} (tried {attempts} times)"
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
        """POST ``body``; returns the secrets it expanded (for scrubbing a later failure)."""
        import urllib.error
        import urllib.request

        assert target.webhook is not None
        url, secrets = expand(target.webhook, self.env)
        if not url.lower().startswith(("http://", "https://")):
            raise _GiveUp("a webhook URL must start with http:// or https://")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"mvctl/{__version__}",
            "X-Mvctl-Event": event["event"],
            "X-Mvctl-Event-Id": event["id"],
        }
        for name, raw in target.headers.items():
            headers[name], more = expand(raw, self.env)
            secrets += more
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=target.timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            error.close()
            if error.code >= 500 or error.code == 429:
                raise _Retry(scrub(f"the endpoint answered {error.code}", secrets)) from None
            raise _GiveUp(scrub(f"the endpoint answered {error.code}", secrets)) from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise _GiveUp(f"no answer within {target.timeout:g} s") from None
            raise _Retry(scrub(f"cannot connect: {error.reason}", secrets)) from None
        except TimeoutError:
            raise _GiveUp(f"no answer within {target.timeout:g} s") from None
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


def _env_values(target: Notification, env: Mapping[str, str]) -> list[str]:
    """The values of every variable the target names, to scrub even an unexpanded failure."""
    texts = [target.webhook or "", *target.headers.values()]
    return [env[name] for text in texts for name in _VARIABLE.findall(text) if name in env]
