"""Test session setup: every test runs offline, like the workflow's jobs."""
import os

from needlework.env import OFFLINE_ENV  # noqa: E402 - the same variables every workflow job gets

os.environ.update(OFFLINE_ENV)
# Local test servers must never be reached through a proxy a CI machine may have configured.
os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"]))
os.environ["no_proxy"] = os.environ["NO_PROXY"]
