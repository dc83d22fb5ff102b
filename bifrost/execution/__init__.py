"""Execution: orders and their state machine, the order manager, brokers (paper, Alpaca).

The public names are re-exported here as their modules land (issue 14); until then import
from the private modules.
"""
