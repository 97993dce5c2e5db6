"""``python -m simulator --port P``."""

import typer

from simulator.cli import simulator_command

if __name__ == "__main__":
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(simulator_command)
    app()
