"""One in-process simulator for the simulator's tests, and a way to get a client on it with
chosen switches, clean stats and an unshifted clock."""

import contextlib

import httpx
import msgspec
import pytest

from simulator.faults import SimConfig
from simulator.server import SimulatorServer


@pytest.fixture(scope="session")
def sim():
    with SimulatorServer(seed=7, videos=60000) as server:
        yield server


@contextlib.contextmanager
def fresh_client(sim, config: SimConfig = SimConfig(), client_key: str | None = None):
    """A client on `sim` reset to `config`; with `client_key`, it carries that key's token."""
    with httpx.Client(base_url=sim.url, timeout=10) as client:
        client.post("/_sim/config", json=msgspec.structs.asdict(config))
        client.post("/_sim/stats/reset")
        client.post("/_sim/clock", json={"offset_s": 0})
        if client_key:
            token = client.post("/v2/oauth/token/", data={
                "client_key": client_key, "client_secret": "s", "grant_type": "client_credentials"}).json()
            client.headers["Authorization"] = "Bearer " + token["access_token"]
        yield client
