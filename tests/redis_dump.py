"""Every key and value in a Redis, as one byte string: for tests that search it for secrets."""


def redis_dump(client, match: str = "*") -> bytes:
    parts = []
    for key in client.scan_iter(match=match, count=1000):
        parts.append(key)
        kind = client.type(key)
        if kind == b"string":
            parts.append(client.get(key))
        elif kind == b"hash":
            for field, value in client.hgetall(key).items():
                parts += [field, value]
        elif kind == b"set":
            parts += list(client.smembers(key))
        elif kind == b"list":
            parts += client.lrange(key, 0, -1)
        elif kind == b"zset":
            parts += [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
    return b"\n".join(parts)
