"""Loads Lua scripts shipped as package data, registered once per Redis client.

Scripts sit beside the code that runs them: the registration's in `core/lua/`, the units'
in `workers/lua/`, the quota bucket's in `workers/quota/`, the token cache's in
`workers/tiktok/`.
"""

from functools import cache
from importlib import resources


@cache
def source(name: str, package: str, folder: str = "lua") -> str:
    location = resources.files(package)
    if folder:
        location = location.joinpath(folder)
    return location.joinpath(f"{name}.lua").read_text()


def register(redis, name: str, package: str, folder: str = "lua"):
    """`name`.lua from `package` (in its `folder`; '' for the package's own folder)."""
    return redis.register_script(source(name, package, folder))
