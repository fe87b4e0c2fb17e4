import argparse
import sys

from agentd.simulator.cli import add_arguments, serve

parser = argparse.ArgumentParser(prog="python -m agentd.simulator")
add_arguments(parser)
sys.exit(serve(parser.parse_args()))
