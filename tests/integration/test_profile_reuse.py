"""Two harvests of one project over the same accounts, one after the other: the second
spends no profile call (the first's answers are reused) and its records are as complete:
every author answered, expanded in the video records, and written as a Person record."""

import pytest
import yaml

from core.keys import Keys
from tests.conftest import cli
from tests.integration.harvest_checks import DEMO_SPEC, assert_exact, wait_for_state
from workers.progress import HarvestStore

pytestmark = pytest.mark.integration


def submit(env, tmp_path, harvest_id: str, period: str) -> str:
    spec = yaml.safe_load(DEMO_SPEC.read_text()) | {"id": harvest_id, "period": period}
    path = tmp_path / f"{harvest_id}.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = cli("submit", str(path), env=env)
    assert result.returncode == 0, result.stderr
    return harvest_id


def test_a_second_harvest_of_the_project_spends_no_profile_call(harvest_env, redis_client, namespace,
                                                                simulator_url, fleets, tmp_path):
    store = HarvestStore(redis_client, Keys(namespace))
    fleet = fleets(processes=2, threads=4)
    first = submit(harvest_env, tmp_path, "june", "20240601-20240630")
    done = wait_for_state(store, first, timeout_s=180, fleets=[fleet])
    assert done.state == "done" and done.endpoints["user_info"].requests == done.users_done > 100

    second = submit(harvest_env, tmp_path, "june_again", "20240610-20240620")
    status = wait_for_state(store, second, timeout_s=180, fleets=[fleet])
    assert status.state == "done" and status.users_done > 50
    assert status.endpoints["user_info"].requests == 0  # every profile reused
    assert status.requests == status.endpoints["video_query"].requests
    assert_exact(store, simulator_url, tmp_path / "data", second)
