"""The README's first command: the demo harvest, end to end, as a user runs it."""

import os

import pytest

from harvest_cli.processes import free_port, redis_answers
from tests.conftest import cli

pytestmark = pytest.mark.integration


def test_demo_starts_a_private_redis_when_none_answers_and_stores_the_exact_set(tmp_path):
    redis_url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    data_dir = tmp_path / "demo"
    result = cli("demo", "--data-dir", str(data_dir), "--latency-ms", "0",
                 env=dict(os.environ, REDIS_URL=redis_url, COLUMNS="200"), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "starting a private redis-server" in result.stderr
    assert "6,101 (simulator's ground truth: 6,101: exact)" in result.stderr
    assert "957 profiles answered" in result.stderr
    records = data_dir / "records" / "TikTok" / "tiktok_query_demo001" / "new"
    assert len(list(records.glob("*/tiktok_videos_*.json"))) == 66
    assert len(list(records.glob("*/tiktok_user_*.json"))) == 957
    assert not redis_answers(redis_url)  # the private Redis is stopped again
