"""``python -m simulator --port P``."""

import typer

from simulator.cli import simulator_command

if __name__ == "__main__":
    typer.run(simulator_command)
