"""Run the command line as `python -m tl_engine.cli`."""

from tl_engine.cli import main

main(prog_name="tl")
