# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %%
from bifrost.config import load_settings
from bifrost.data import open_store
from bifrost.ui import order_ticket

# %%
store = open_store(load_settings())

# %%
order_ticket(store)
