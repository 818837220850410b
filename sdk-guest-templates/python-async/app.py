"""{{name}}: a Componentry plugin in Python with an async export.

It implements the `componentry:plugin/async-greeter` world, whose `greet` is an `async func` (the
component model's async ABI, which componentize-py builds from an `async def`): `greet(name)`
returns "Hello, NAME!" (or the `greeting` its settings give), and tells the host's log whom it
greeted.
"""

import wit_world
from wit_world.imports import log, settings


class WitWorld(wit_world.WitWorld):
    async def greet(self, name: str) -> str:
        if not name:
            # An uncaught exception traps; the host's error carries its traceback.
            raise ValueError("a name is required")
        log.log(log.Level.INFO, f"greeting {name}")
        greeting = settings.get("greeting") or "Hello"
        return f"{greeting}, {name}!"
