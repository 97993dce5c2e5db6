"""How workers and the command line talk to Redis (workers/broker.py redis_client)."""

import socket

from workers.broker import redis_client


def test_workers_wait_for_an_answer_and_notice_a_dead_connection(settings):
    kwargs = redis_client(settings).connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] is None  # a stalled Redis is waited for, never given up on
    assert kwargs["socket_keepalive"] is True
    assert kwargs["socket_keepalive_options"][socket.TCP_KEEPIDLE] == 30


def test_the_command_line_gives_up_after_ten_seconds(settings):
    kwargs = redis_client(settings, read_timeout_s=10).connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 10
