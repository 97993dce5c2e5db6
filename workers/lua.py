"""Loads the Lua scripts shipped beside this package, registered once per Redis client."""

from functools import cache
from importlib import resources


@cache
def source(name: str) -> str:
    return resources.files("workers").joinpath("lua", f"{name}.lua").read_text()


def register(redis, name: str):
    return redis.register_script(source(name))
